package report

// Clean is clean, for the tests of hostile registry text.
var Clean = clean

// ReadJSONLimit is ReadJSON refusing input over limit bytes.
var ReadJSONLimit = readJSON
