package layers

// whiteoutOccurrences records Dive's occurrences of the layer's
// whiteouts, weighed in the tree of the layers below (the tree before
// this layer's changes). Dive counts an occurrence of a whiteout's path
// weighing the bytes below it when its stacked tree holds the path as a
// directory (node.diveDir), 0 when it holds it otherwise; it fails on a
// whiteout of a path its stacked tree lacks and stops counting that
// layer — here such a whiteout is skipped alone.
//
// Dive does not know opaque markers (file_tree.go AddPath drops
// ".wh..wh." names): a marker is counted as the whiteouts of the
// directory's lower children that a builder without markers writes.
//
// Whiteouts come in reverse order, so a directory's bytes reuse those of
// the whiteouts below it: each node is summed once per layer.
func (m *merger) whiteoutOccurrences(entries []Entry) error {
	var sums map[*node]int64
	var seen map[string]bool
	weigh := func(nd *node) int64 {
		if !nd.diveDir {
			return 0
		}
		if sums == nil {
			sums = make(map[*node]int64)
		}
		total := subtreeBytes(nd, sums)
		sums[nd] = total
		return total
	}
	occur := func(nd *node) error {
		if seen == nil {
			seen = make(map[string]bool)
		}
		if seen[nd.path] {
			return nil // a marker's child and an explicit whiteout: one node in Dive's layer tree
		}
		seen[nd.path] = true
		return m.occur(nd.path, weigh(nd))
	}
	for k := len(entries) - 1; k >= 0; k-- {
		e := &entries[k]
		if !e.Whiteout && !e.Opaque || e.Path == "" {
			continue
		}
		nd := m.tree.get(e.Path)
		if nd == nil {
			continue
		}
		if e.Whiteout {
			if err := occur(nd); err != nil {
				return err
			}
			continue
		}
		for _, c := range nd.children {
			if err := occur(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// subtreeBytes sums the sizes of nd's subtree, using (and not walking
// below) the nodes already in sums.
func subtreeBytes(nd *node, sums map[*node]int64) int64 {
	var total int64
	stack := []*node{nd}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s, ok := sums[cur]; ok && cur != nd {
			total += s
			continue
		}
		total += cur.size
		for _, c := range cur.children {
			stack = append(stack, c)
		}
	}
	return total
}
