package auth

import "fmt"

// CheckRobotName returns an error wrapping ErrRobotInvalid unless name is
// one a robot may have (1–64 of a-z 0-9 . _ -, starting and ending with a
// letter or digit), so that callers can refuse a malformed name as such
// instead of reporting an unknown robot.
func CheckRobotName(name string) error {
	if !robotName.MatchString(name) {
		return fmt.Errorf("%w: name %q: want 1–64 of a-z 0-9 . _ -, starting and ending with a-z or 0-9", ErrRobotInvalid, name)
	}
	return nil
}
