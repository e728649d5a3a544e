package tlsguard

import "testing"

// TestModes pins what each mode does: the rest of the package asks these
// methods and nothing else.
func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode                         Mode
		refuses, patches, onlyUnset  bool
		patchesUserSet, patchesUnset bool
	}{
		{ModeEnforce, true, true, true, false, true},
		{ModeHarden, false, true, false, true, true},
		{ModeAudit, false, false, false, false, false},
	} {
		if got := tc.mode.refuses(); got != tc.refuses {
			t.Errorf("%s refuses() = %v", tc.mode, got)
		}
		if got := tc.mode.patches(); got != tc.patches {
			t.Errorf("%s patches() = %v", tc.mode, got)
		}
		if got := tc.mode.onlyUnset(); got != tc.onlyUnset {
			t.Errorf("%s onlyUnset() = %v", tc.mode, got)
		}
		if got := tc.mode.patchesSetting(true); got != tc.patchesUserSet {
			t.Errorf("%s patchesSetting(user set) = %v", tc.mode, got)
		}
		if got := tc.mode.patchesSetting(false); got != tc.patchesUnset {
			t.Errorf("%s patchesSetting(unset) = %v", tc.mode, got)
		}
		if err := CheckMode(string(tc.mode)); err != nil {
			t.Errorf("CheckMode(%s) = %v", tc.mode, err)
		}
	}
	if err := CheckMode("Enforce"); err == nil {
		t.Error("CheckMode accepted Enforce: modes are lower case, as Caddy's values are")
	}
}
