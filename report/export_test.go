package report

// Clean is clean, for the tests of hostile registry text.
var Clean = clean
