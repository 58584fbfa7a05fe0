// Package termsafe makes strings that come from input safe to print on a terminal: control
// characters (C0, DEL, C1), Unicode format characters that reorder or hide text (bidi
// overrides and isolates, zero-width characters, the BOM) and invalid UTF-8 become Go escapes
// (\x1b, \r, \n, \u202e, \xff), so that a crafted ref name, annotation or file name cannot
// move the cursor, clear the screen or print a fake line. Printable Unicode is kept as is.
// See https://go.dev/ref/spec#Rune_literals for the escape syntax.
package termsafe
