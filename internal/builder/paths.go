package builder

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// fileSet is the set of paths to keep, split the way the copy needs it.
type fileSet struct {
	// leaves are kept paths with no kept path below them: files, symlinks
	// and directories kept without their contents. Sorted.
	leaves []string
	// dirs are the directories that hold kept paths: every proper ancestor
	// of a leaf, whether listed or not, except "/". Sorted, so a parent
	// comes before its children.
	dirs []string
	// children holds the base names of the kept paths in each directory,
	// "/" included. Sorted.
	children map[string][]string
}

// newFileSet cleans and checks paths: each must be absolute; duplicates,
// "/" and paths implied by others are folded together.
func newFileSet(paths []string) (fileSet, error) {
	all := make(map[string]bool, len(paths))
	for _, p := range paths {
		if !path.IsAbs(p) {
			return fileSet{}, fmt.Errorf("path %q is not absolute", p)
		}
		if strings.ContainsRune(p, 0) {
			return fileSet{}, fmt.Errorf("path %q holds a NUL byte", p)
		}
		if p = path.Clean(p); p != "/" {
			all[p] = true
		}
	}
	if len(all) == 0 {
		return fileSet{}, fmt.Errorf("no paths to keep")
	}
	dirs := map[string]bool{}
	for p := range all {
		for d := path.Dir(p); d != "/" && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var fs fileSet
	for p := range all {
		if !dirs[p] {
			fs.leaves = append(fs.leaves, p)
		}
	}
	for d := range dirs {
		fs.dirs = append(fs.dirs, d)
	}
	slices.Sort(fs.leaves)
	slices.Sort(fs.dirs)
	fs.children = map[string][]string{}
	for _, ps := range [][]string{fs.leaves, fs.dirs} {
		for _, p := range ps {
			d := path.Dir(p)
			fs.children[d] = append(fs.children[d], path.Base(p))
		}
	}
	for _, c := range fs.children {
		slices.Sort(c)
	}
	return fs, nil
}

// escapePattern turns an image path relative to the copy source into a
// BuildKit include/exclude pattern that matches exactly that path: pattern
// characters are escaped, and so are the characters the pattern parser
// would otherwise eat (a leading "!", leading and trailing white space).
func escapePattern(rel string) string {
	var b strings.Builder
	special := strings.ContainsAny(rel, `*?[]\^`) || strings.HasPrefix(rel, "!") ||
		strings.TrimSpace(rel) != rel
	if !special {
		return rel
	}
	// Once anything is escaped the pattern becomes a regular expression,
	// where "^" would be an anchor.
	for i, r := range rel {
		switch {
		case strings.ContainsRune(`*?[]\^`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '!' && i == 0:
			b.WriteString(`\!`)
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f':
			// A bracket expression keeps white space that TrimSpace
			// would strip; Go's regexp refuses "\ ".
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
