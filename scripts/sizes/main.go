// Command sizes lists the non-test Go files over -file-lines lines and the
// functions over -func-lines lines (issue 17's limits: 600 and 120), the
// ones that hold more than one idea. A function whose doc comment says why
// it is long, on a line starting "Long:", is listed apart. With -fail the
// exit status is 1 when anything unexplained is over.
//
//	go run ./scripts/sizes [-fail] [dir]
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	fileMax := flag.Int("file-lines", 600, "longest non-test Go file, in lines")
	funcMax := flag.Int("func-lines", 120, "longest function, in lines")
	fail := flag.Bool("fail", false, "exit 1 when a file or an unexplained function is over")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	over, err := scan(root, *fileMax, *funcMax)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sizes: %v\n", err)
		os.Exit(2)
	}
	if over > 0 && *fail {
		os.Exit(1)
	}
}

// scan prints what is over the limits under root and returns how many of
// those are unexplained.
func scan(root string, fileMax, funcMax int) (int, error) {
	fset := token.NewFileSet()
	over := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		if n := fset.File(f.Pos()).LineCount(); n > fileMax {
			fmt.Printf("file %5d lines  %s\n", n, p)
			over++
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			start := fset.Position(fd.Pos())
			n := fset.Position(fd.End()).Line - start.Line + 1
			if n <= funcMax {
				continue
			}
			why := ""
			if fd.Doc != nil {
				for _, line := range strings.Split(fd.Doc.Text(), "\n") {
					if strings.HasPrefix(line, "Long:") {
						why = " (says why)"
					}
				}
			}
			if why == "" {
				over++
			}
			fmt.Printf("func %5d lines  %s:%d %s%s\n", n, p, start.Line, funcName(fd), why)
		}
		return nil
	})
	return over, err
}

// funcName is Recv.Name for a method, Name for a function.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
