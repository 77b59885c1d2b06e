// Package ui tests the web UI in a real browser: Debian's Chromium, headless,
// driven with chromedp (DevTools protocol), against a real imagegate process.
// It needs IMAGEGATE_BIN (the binary) and IMAGEGATE_CHROMIUM (the browser;
// scripts/chromium.sh install prints it); without them the tests skip, or
// fail under IMAGEGATE_TEST_REQUIRE_ALL=1. Screenshots of every page are
// written to build/ui/ (IMAGEGATE_UI_SCREENSHOTS overrides the directory).
package ui
