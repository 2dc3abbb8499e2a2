//go:build unix

package atomicfile

import "syscall"

// writable asks the kernel whether this process may write path (and, for a
// directory, create files in it), as access(2) answers: permissions, and a
// read-only file system even for root. Nothing is opened, so a FIFO is not
// disturbed.
func writable(path string, dir bool) error {
	const wOK, xOK = 0x2, 0x1
	mode := uint32(wOK)
	if dir {
		mode |= xOK
	}
	return syscall.Access(path, mode)
}
