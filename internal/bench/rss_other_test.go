//go:build !unix

package bench

import "os"

// peakRSS is not known here.
func peakRSS(*os.ProcessState) (float64, bool) { return 0, false }
