package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mlaudit/mlaudit/report"
)

// The last round's reports, as the server's pages serve them.

// WriteJSON writes the last round's JSON report.
func (s *Server) WriteJSON(w io.Writer) error {
	r, ok := s.Last()
	if !ok {
		return ErrNoRound
	}
	return report.Render(w, report.JSON, r.Result)
}

// WriteHTML writes the last round's HTML report, with when it ran and when
// the next round is due.
func (s *Server) WriteHTML(w io.Writer) error {
	r, ok := s.Last()
	if !ok {
		return ErrNoRound
	}
	var b bytes.Buffer
	if err := report.Render(&b, report.HTML, r.Result); err != nil {
		return err
	}
	next := "not scheduled"
	if !r.Next.IsZero() {
		next = r.Next.UTC().Format(time.RFC3339)
	}
	banner := fmt.Sprintf("\n<p class=\"mlaudit-serve\">Round started %s, took %s; next round %s.</p>\n",
		r.Started.UTC().Format(time.RFC3339), r.Finished.Sub(r.Started).Round(time.Millisecond), next)
	page := b.String()
	if i := strings.Index(page, "<body"); i >= 0 {
		if j := strings.IndexByte(page[i:], '>'); j >= 0 {
			page = page[:i+j+1] + banner + page[i+j+1:]
		}
	}
	_, err := io.WriteString(w, page)
	return err
}

// ErrNoRound is returned before the first round has finished.
var ErrNoRound = errors.New("serve: no round has finished yet")
