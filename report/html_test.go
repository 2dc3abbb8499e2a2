package report_test

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlaudit/mlaudit/report"
)

// chromium returns Debian's chromium, installed by make test. Under
// CI=true its absence fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (make test installs it)")
		}
		t.Skip("chromium is not installed (make test installs it)")
	}
	return bin
}

// headless runs chromium on a local file with the flags this closed
// network needs, and returns its standard output.
func headless(t *testing.T, bin, page string, args ...string) string {
	t.Helper()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir()}
	out, err := exec.Command(bin, append(append(base, args...), "file://"+page)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

func TestHTMLIsSelfContained(t *testing.T) {
	page := string(render(t, report.HTML, fixed()))
	// Anything that would load a resource (URLs in text, such as a
	// registry's error message, load nothing).
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "<object", "@import", "url(", "src=", "href="} {
		if strings.Contains(page, bad) {
			t.Errorf("the page must load nothing from elsewhere, found %q", bad)
		}
	}
	if !strings.Contains(page, `name="viewport"`) {
		t.Error("the page should set a viewport for phones")
	}
}

// TestHTMLInChromium opens the report in headless Chromium: the rendered
// DOM holds the matrix, and screenshots at desktop and phone widths show
// its status colours.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, render(t, report.HTML, fixed()), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := headless(t, bin, page, "--dump-dom")
	for _, want := range []string{`<table class="matrix">`, `<th>linux/arm/v7</th>`, `class="cell present"`, `class="cell missing"`, `class="cell mismatch"`, "missing-platform"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	colours := map[string][3]uint8{"present": {0x2d, 0xa4, 0x4e}, "missing": {0xcf, 0x22, 0x2e}, "mismatch": {0xbc, 0x4c, 0x00}}
	for _, size := range []string{"1280,900", "412,915"} {
		shot := filepath.Join(t.TempDir(), "shot.png")
		headless(t, bin, page, "--window-size="+size, "--screenshot="+shot)
		f, err := os.Open(shot)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				for name, c := range colours {
					if uint8(r>>8) == c[0] && uint8(g>>8) == c[1] && uint8(bl>>8) == c[2] {
						counts[name]++
					}
				}
			}
		}
		for name := range colours {
			// A matrix cell is at least 6.5rem by 2rem: thousands of pixels.
			if counts[name] < 1000 {
				t.Errorf("at %s the screenshot shows %d %s pixels; the matrix cell is not visible", size, counts[name], name)
			}
		}
	}
}
