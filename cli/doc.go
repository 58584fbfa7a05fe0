// Package cli is gadgetpack's command line: commands, flags, progress, output formats and exit
// codes, and nothing else. Each command is one file with a func xxxCommand() *cli.Command; an
// action parses its flags, calls one package function and renders the result.
//
// Exit codes: 0 success, 1 failure or verification problems, 2 usage error.
package cli
