// Package imports reads the source files of interpreted languages (Python,
// Node.js, Ruby, PHP) for the modules they name with literal strings, and
// finds those modules in an image the way the language's own loader would.
// The trace only sees the code that ran; this is what that code may load
// later (an import inside a handler no probe called).
//
// Parse tokenizes a file (strings, comments and multi-line statements
// handled, per language) and returns its references: a literal module name
// or path, or, when the name is computed at run time, the expression with
// its line, for the user to add by hand. A Resolver looks a reference up in
// an image filesystem (an fs.FS), from the interpreter's search paths it derives
// from the image itself. Nothing from the image is executed, and the
// package makes no syscall of its own.
package imports
