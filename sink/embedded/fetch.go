package embedded

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FetchLibrary makes sure libchdb.so of the pinned package is present below
// cacheRoot (at cacheRoot/chdb/<version>/libchdb.so) and returns its path.
// When the library and its integrity marker are present it does nothing.
// Otherwise it runs `npm pack` for the pinned package, verifies the
// tarball's sha512 against PackageIntegrity, and extracts the library
// atomically. Progress lines go to progress.
func FetchLibrary(ctx context.Context, cacheRoot string, progress io.Writer) (string, error) {
	dir := filepath.Join(cacheRoot, CacheSubdir)
	lib := filepath.Join(dir, "libchdb.so")
	marker := filepath.Join(dir, ".integrity")
	if b, err := os.ReadFile(marker); err == nil && strings.TrimSpace(string(b)) == PackageIntegrity {
		if _, err := os.Stat(lib); err == nil {
			return lib, nil
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("engine fetch needs npm (Node.js) on PATH: install Node.js, or download " + Package + "@" + PackageVersion + " yourself and set " + LibraryEnv)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("engine fetch: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, "pack-")
	if err != nil {
		return "", fmt.Errorf("engine fetch: %w", err)
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintf(progress, "fetching the embedded ClickHouse engine: npm pack %s@%s (about 180 MB, once)\n", Package, PackageVersion)
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--pack-destination", tmp, Package+"@"+PackageVersion)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("engine fetch: npm pack failed: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	tgzs, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tgzs) != 1 {
		return "", fmt.Errorf("engine fetch: npm pack left %d tarballs in %s, want 1", len(tgzs), tmp)
	}
	if err := verifyIntegrity(tgzs[0]); err != nil {
		return "", err
	}
	fmt.Fprintln(progress, "verified sha512; extracting libchdb.so")
	if err := extractLibrary(tgzs[0], lib); err != nil {
		return "", err
	}
	if err := os.WriteFile(marker, []byte(PackageIntegrity+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("engine fetch: %w", err)
	}
	fmt.Fprintf(progress, "engine ready: %s\n", lib)
	return lib, nil
}

func verifyIntegrity(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("engine fetch: %w", err)
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("engine fetch: %w", err)
	}
	got := "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil))
	if got != PackageIntegrity {
		return fmt.Errorf("engine fetch: %s has integrity %s, want %s: refusing to use it (a tampered or different package)", filepath.Base(path), got, PackageIntegrity)
	}
	return nil
}

func extractLibrary(tgz, dst string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return fmt.Errorf("engine fetch: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("engine fetch: %s: %w", tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("engine fetch: %s has no package/libchdb.so", tgz)
		}
		if err != nil {
			return fmt.Errorf("engine fetch: %s: %w", tgz, err)
		}
		if h.Name != "package/libchdb.so" {
			continue
		}
		tmp := dst + ".part"
		out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
		if err != nil {
			return fmt.Errorf("engine fetch: %w", err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return fmt.Errorf("engine fetch: extract: %w", err)
		}
		if err := out.Close(); err != nil {
			return fmt.Errorf("engine fetch: %w", err)
		}
		return os.Rename(tmp, dst)
	}
}

// DefaultCacheRoot returns where FetchLibrary puts the engine by default:
// .cache in the enclosing tapline source tree when run inside one (the
// directory with go.mod declaring module github.com/tapline/tapline), else
// the user's cache directory /tapline.
func DefaultCacheRoot() string {
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/tapline/tapline\n")) {
				return filepath.Join(dir, ".cache")
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if ucd, err := os.UserCacheDir(); err == nil {
		return filepath.Join(ucd, "tapline")
	}
	return ".cache"
}
