package finding

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

type item struct {
	code string
	sev  Severity
}

func (i item) Rating() (string, Severity) { return i.code, i.sev }

func TestSeverityText(t *testing.T) {
	for _, sev := range All() {
		b, err := json.Marshal(sev)
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != sev {
			t.Errorf("%s: round trip through %s gave %v, %v", sev, b, back, err)
		}
	}
	if got, _ := json.Marshal(struct{ S Severity }{Critical}); string(got) != `{"S":"critical"}` {
		t.Errorf("JSON of Critical = %s", got)
	}
	for _, bad := range []string{"", "Warning", "fatal", "warn"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "want info, warning, error, critical") {
			t.Errorf("Parse(%q) = %v, want an error listing the severities", bad, err)
		}
	}
	if _, err := Severity(9).MarshalText(); err == nil {
		t.Error("MarshalText of an out-of-range severity succeeded")
	}
}

func TestOrder(t *testing.T) {
	if !slices.IsSorted(All()) || !(Info < Warning && Warning < Error && Error < Critical) {
		t.Errorf("severities are not ordered lowest first: %v", All())
	}
}

func TestListHelpers(t *testing.T) {
	list := []item{{"a", Warning}, {"b", Error}, {"c", Warning}, {"d", Critical}}
	if got := Only(list, Warning); len(got) != 2 || got[0].code != "a" || got[1].code != "c" {
		t.Errorf("Only(Warning) = %v", got)
	}
	if Only(list, Info) != nil {
		t.Error("Only(Info) of a list without info findings is not nil")
	}
	if Count(list, Warning) != 2 || Count(list, Info) != 0 {
		t.Errorf("Count = %d, %d", Count(list, Warning), Count(list, Info))
	}
	if !Has(list, "d") || Has(list, "e") {
		t.Error("Has")
	}
}
