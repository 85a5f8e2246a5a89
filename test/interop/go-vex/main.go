// vexcheck reads an OpenVEX document with github.com/openvex/go-vex, the reference OpenVEX reader, and
// answers questions about it as one JSON object on stdout. It is built by test/setup/go-vex.ts for the
// interop test (test/integration/openvex-interop.test.ts); it is not part of the pipeline.
//
// Usage: vexcheck <openvex.json> < queries.json
//
// queries.json: {"queries": [{"vulnerability": "CVE-…", "product": "pkg:deb/…", "subcomponents": ["pkg:…"]}]}
// Each query is answered as go-vex's VEX.Matches answers it: the statements for that vulnerability whose
// product (and, when subcomponents are given, one of its subcomponents) matches, by purl rules.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/openvex/go-vex/pkg/vex"
)

type query struct {
	Vulnerability string   `json:"vulnerability"`
	Product       string   `json:"product"`
	Subcomponents []string `json:"subcomponents,omitempty"`
}

type answer struct {
	Query    query      `json:"query"`
	Statuses []string   `json:"statuses"`
	Products [][]string `json:"products"`
}

type invalid struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

type report struct {
	Context        string    `json:"context"`
	ID             string    `json:"id"`
	StatementCount int       `json:"statement_count"`
	Invalid        []invalid `json:"invalid"`
	Answers        []answer  `json:"answers"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vexcheck:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: vexcheck <openvex.json> < queries.json")
	}
	doc, err := vex.Open(os.Args[1])
	if err != nil {
		return fmt.Errorf("loading %s: %w", os.Args[1], err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		return fmt.Errorf("reading the queries: %w", err)
	}
	var queries struct {
		Queries []query `json:"queries"`
	}
	if len(input) > 0 {
		if err := json.Unmarshal(input, &queries); err != nil {
			return fmt.Errorf("reading the queries: %w", err)
		}
	}
	out := report{Context: doc.Context, ID: doc.ID, StatementCount: len(doc.Statements), Invalid: []invalid{}, Answers: []answer{}}
	for i := range doc.Statements {
		if err := doc.Statements[i].Validate(); err != nil {
			out.Invalid = append(out.Invalid, invalid{Index: i, Error: err.Error()})
		}
	}
	for _, q := range queries.Queries {
		a := answer{Query: q, Statuses: []string{}, Products: [][]string{}}
		for _, statement := range doc.Matches(q.Vulnerability, q.Product, q.Subcomponents) {
			a.Statuses = append(a.Statuses, string(statement.Status))
			ids := []string{}
			for _, product := range statement.Products {
				ids = append(ids, product.ID)
			}
			a.Products = append(a.Products, ids)
		}
		out.Answers = append(out.Answers, a)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	return encoder.Encode(out)
}
