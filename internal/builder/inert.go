package builder

import (
	"fmt"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

// inertSource is the only source a slim image's graph reads: the fat
// image's kept paths, which the session serves (keptFS).
const inertSource = "local://" + localName

// checkInert refuses a build graph that holds anything but source and
// file operations: no exec (so no command, no cache or bind mount, no
// network), no nested build (custom frontend), no merge or diff, and no
// source but the fat image's kept paths (no other local directory, no git,
// http or image). BuildKit's escape surfaces are out of reach by
// construction; this keeps them so.
func checkInert(def *llb.Definition) error {
	for i, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return fmt.Errorf("decoding build graph: %w", err)
		}
		switch o := op.Op.(type) {
		case nil: // the final op, naming the result
		case *pb.Op_File:
		case *pb.Op_Source:
			if id := o.Source.GetIdentifier(); id != inertSource {
				return fmt.Errorf("build graph op %d reads source %q: only the fat image is read", i, id)
			}
		default:
			return fmt.Errorf("build graph op %d is %s: a slim image is built from source and file operations only", i, opName(o))
		}
	}
	return nil
}

func opName(o any) string {
	switch o.(type) {
	case *pb.Op_Exec:
		return "an exec"
	case *pb.Op_Build:
		return "a nested build (custom frontend)"
	case *pb.Op_Merge:
		return "a merge"
	case *pb.Op_Diff:
		return "a diff"
	}
	return fmt.Sprintf("%T", o)
}
