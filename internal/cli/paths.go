package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A source is one file to upload: where it is, and the name it gets.
type source struct {
	path, name string
	regular    bool // false: a pipe or device named on the command line, read once
}

// selection chooses the files of a walk: --include, --exclude, --hidden.
type selection struct {
	include, exclude []string
	hidden           bool
}

// check refuses malformed patterns.
func (s selection) check() error {
	for _, p := range append(append([]string{}, s.include...), s.exclude...) {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			return usageError{fmt.Errorf("glob %q: malformed", p)}
		}
	}
	return nil
}

// wants reports whether the file named name is uploaded: it matches an
// --include, if any is given, and no --exclude.
func (s selection) wants(name string) bool {
	return (len(s.include) == 0 || matchAny(s.include, name)) && !matchAny(s.exclude, name)
}

// matchAny reports whether name matches one of the patterns. A pattern
// without / matches the last segment of name (as *.log does at any depth);
// one with / matches all of name, segment by segment, where a ** segment
// matches any number of segments, none included.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if !strings.Contains(p, "/") {
			if ok, _ := path.Match(p, path.Base(name)); ok {
				return true
			}
		} else if matchSegments(strings.Split(p, "/"), strings.Split(name, "/")) {
			return true
		}
	}
	return false
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// hidden reports whether a file or directory met in a walk is left out
// unless --hidden: a dotfile or dot-directory, version control's (.git,
// .hg, .svn) among them.
func hidden(base string) bool { return strings.HasPrefix(base, ".") }

// walker expands the command line's paths into sources, reporting on
// stderr (warn) what it cannot upload.
type walker struct {
	sel      selection
	warn     func(format string, args ...any)
	sources  []source
	problems int // paths that could not be read: the upload ends in exit status 1
}

// expand turns the command line's paths into the files to upload, named as
// rsync names what it copies: a file named on the command line by its base
// name; a directory's files by their path relative to the directory's
// parent (upload reports: reports/a/x.txt), or, when the argument ends in
// / (or is . or /), relative to the directory itself (upload reports/:
// a/x.txt). Names use /, whatever the system. A symbolic link named on the
// command line is followed; one met in a directory is reported and not
// followed. Dotfiles and version control directories met in a directory
// are skipped unless sel.hidden. A path that cannot be read is reported
// and counted in problems, and the others still expand.
func expand(args []string, sel selection, warn func(string, ...any)) (sources []source, problems int) {
	w := &walker{sel: sel, warn: warn}
	for _, a := range args {
		w.arg(a)
	}
	return w.sources, w.problems
}

func (w *walker) arg(a string) {
	fi, err := os.Stat(a) // follows a symbolic link
	switch {
	case err != nil:
		w.problem("%v", unwrapPath(err, a))
	case fi.IsDir():
		w.dir(a, dirPrefix(a))
	default:
		name := filepath.Base(a)
		if w.sel.wants(name) {
			w.sources = append(w.sources, source{path: a, name: name, regular: fi.Mode().IsRegular()})
		}
	}
}

// dirPrefix is the name under which the files of directory argument a go:
// its base name, or nothing for its contents (a trailing /, ., .. or /).
func dirPrefix(a string) string {
	if strings.HasSuffix(a, "/") || strings.HasSuffix(a, string(filepath.Separator)) {
		return ""
	}
	switch base := filepath.Base(a); {
	case base == "." || base == ".." || base == string(filepath.Separator):
		return ""
	default:
		return filepath.ToSlash(base)
	}
}

// dir adds the files of directory p, whose entries are named under prefix.
func (w *walker) dir(p, prefix string) {
	entries, err := os.ReadDir(p)
	if err != nil {
		w.problem("%v", unwrapPath(err, p))
	}
	for _, e := range entries { // sorted by name
		full, name := filepath.Join(p, e.Name()), path.Join(prefix, e.Name())
		if !w.sel.hidden && hidden(e.Name()) {
			continue
		}
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			w.warn("%s: a symbolic link, not followed (name it on the command line to upload what it points to)", full)
		case e.IsDir():
			if !matchAny(w.sel.exclude, name) {
				w.dir(full, name)
			}
		case t.IsRegular():
			if w.sel.wants(name) {
				w.sources = append(w.sources, source{path: full, name: name, regular: true})
			}
		default:
			w.warn("%s: not a regular file, skipped", full)
		}
	}
}

func (w *walker) problem(format string, args ...any) {
	w.problems++
	w.warn(format, args...)
}

// unwrapPath makes a *fs.PathError read "PATH: reason" with the path as given.
func unwrapPath(err error, p string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", p, pe.Err)
	}
	return err
}
