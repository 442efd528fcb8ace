// Package atomicfile replaces files so that a reader, or a crash, sees
// either the old file or the whole new one, never a part.
package atomicfile

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Write replaces the file at path with what write writes, so that a
// reader or a crash sees either the old file or the whole new one, never a
// part: write fills a temporary file in the same folder (through a
// buffered writer), which is flushed, synced to disk, closed and renamed over
// path; the folder is then synced so that the rename itself is durable. On
// error the temporary file is removed and path is left as it was.
func Write(path string, write func(w *bufio.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	// CreateTemp makes the file private (0600); give it a normal file's mode.
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the entries of folder dir durable. Windows cannot open a
// folder for syncing, so there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return d.Close()
}
