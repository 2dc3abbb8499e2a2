package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/mlaudit/mlaudit/ref"
)

// Targets that are files, not references. ref.Parse refuses what is
// written as a path ("./out.tar", "out/", a name ending in .tar); what it
// cannot know, an existing file or directory written as a bare name ("out"
// for the directory buildx wrote), is refused here, before any request.

// checkNotAPath refuses a registry reference whose text, as written, names
// a file or directory that exists: `mlaudit audit out` with out/ a layout
// means oci:out, not Docker Hub's library/out.
func checkNotAPath(r ref.Ref) error {
	if r.Scheme != ref.Registry {
		return nil
	}
	written := strings.TrimSpace(r.Written())
	info, err := os.Stat(written)
	if err != nil {
		return nil
	}
	return ref.PathError(written, info.IsDir())
}

// checkStdin refuses targets that would read standard input twice: two
// archives on standard input, or one beside --targets-file -.
func checkStdin(refs []ref.Ref, targetsFile string) error {
	var first ref.Ref
	for _, r := range refs {
		if !r.IsStdin() {
			continue
		}
		if targetsFile == "-" {
			return fmt.Errorf("%s reads the archive from standard input, and so does --targets-file -: give one of them a file", r.Written())
		}
		if first.Scheme != "" && first.Repo() != r.Repo() {
			return fmt.Errorf("%s and %s both read standard input, which holds one archive", first.Written(), r.Written())
		}
		first = r
	}
	return nil
}
