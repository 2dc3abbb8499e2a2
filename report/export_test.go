package report

// Clean is clean, for the tests of hostile registry text.
var Clean = clean

// LowerReadLimit makes ReadJSON refuse input over n bytes until the
// returned function is called.
func LowerReadLimit(n int64) (restore func()) {
	old := readLimit
	readLimit = n
	return func() { readLimit = old }
}
