package events

import (
	"slices"
	"testing"
)

func TestChainTable(t *testing.T) {
	for name, c := range Chains {
		t.Run(string(name), func(t *testing.T) {
			if c.Name != name || len(c.Steps) == 0 {
				t.Fatalf("chain %q is malformed", name)
			}
			if c.Finalizer == nil {
				t.Fatalf("chain %q has no finalizer: its entity would stay held when it ends", name)
			}
			for i := range c.Steps {
				r, ok := RouteOf(c.InType(i))
				if !ok || r.Chain != c || r.Step != i || r.Undo {
					t.Fatalf("step %d: route of %s = %+v", i, c.InType(i), r)
				}
				if c.Steps[i].Undoes {
					r, ok := RouteOf(c.UndoType(i))
					if !ok || !r.Undo || r.Step != i || !r.RunsUndo() {
						t.Fatalf("step %d: undo route %+v", i, r)
					}
				}
			}
		})
	}
}

func TestUndoFrom(t *testing.T) {
	c := &VMCreate // authorize has no undo; every other step has one
	cases := []struct {
		step      int
		inclusive bool
		want      int
	}{
		{0, true, -1},
		{1, true, 1},
		{1, false, -1},
		{4, true, 4},
		{4, false, 3},
		{6, true, 6},
	}
	for _, tc := range cases {
		if got := c.UndoFrom(tc.step, tc.inclusive); got != tc.want {
			t.Errorf("UndoFrom(%d, %v) = %d, want %d", tc.step, tc.inclusive, got, tc.want)
		}
	}
	if got := VMDelete.UndoFrom(len(VMDelete.Steps)-1, true); got != -1 {
		t.Errorf("delete chain has undo steps: %d", got)
	}
}

func TestTypesFor(t *testing.T) {
	got := TypesFor("place")
	want := []string{"io.photon.vm.create.quota.reserved", "io.photon.vm.create.undo.place", "io.photon.vm.delete.host.deleted",
		"io.photon.vm.resize.quota.resized", "io.photon.vm.resize.undo.place"}
	if !slices.Equal(got, want) {
		t.Fatalf("TypesFor(place) = %v, want %v", got, want)
	}
	fns := Functions()
	if !slices.Equal(fns, []string{"attachdisk", "authorize", "boot", "console", "disks", "floatingip", "images", "iso", "logicalrouter", "logicalswitch", "place", "power", "quota", "reconcile", "service", "vmhost", "wiresubnet"}) {
		t.Fatalf("Functions() = %v", fns)
	}
	if got := TypesFor("reconcile"); !slices.Equal(got, []string{HostReconcile.Type}) {
		t.Fatalf("TypesFor(reconcile) = %v: its signal only", got)
	}
	if r, ok := RouteOf(HostReconcile.Type); !ok || r.Signal == nil || r.Chain != nil {
		t.Fatalf("the signal's route: %+v", r)
	}
}

func TestNextCarriesContext(t *testing.T) {
	in := New("test", VMCreate.StartType(), "tenant-1", StepData{TaskID: "t", EntityID: "vm"})
	in.SetExtension(ExtTraceParent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	out := Next(in, "test", VMCreate.DoneType(0), StepData{TaskID: "t", EntityID: "vm"})
	if Hops(out) != 1 || out.Extensions()[ExtTenantID] != "tenant-1" || out.Extensions()[ExtTraceParent] == nil {
		t.Fatalf("next event lost context: %v", out.Extensions())
	}
	if _, err := Decode(out); err != nil {
		t.Fatal(err)
	}
	bad := New("test", VMCreate.StartType(), "", StepData{})
	if _, err := Decode(bad); err == nil {
		t.Fatal("empty payload validated")
	}
}
