package hostd

import (
	"context"
	"errors"
	"reflect"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// faultCode is the one table from vSphere faults to gRPC codes.
func faultCode(f types.BaseMethodFault) codes.Code {
	switch f.(type) {
	case *types.NotFound, *types.FileNotFound, *types.ManagedObjectNotFound:
		return codes.NotFound
	case *types.InvalidArgument, *types.InvalidDeviceSpec, *types.InvalidVmConfig,
		*types.InvalidDatastorePath, *types.DeviceUnsupportedForVmPlatform, *types.InvalidName:
		return codes.InvalidArgument
	case *types.InvalidPowerState, *types.InvalidState, *types.InvalidHostState,
		// a disk or file that a VM holds, a change a running VM cannot take
		*types.FileLocked, *types.ResourceInUse, *types.InvalidDeviceOperation,
		*types.CpuHotPlugNotSupported, *types.MemoryHotPlugNotSupported, *types.DeviceHotPlugNotSupported:
		return codes.FailedPrecondition
	case *types.MethodNotFound, *types.NotSupported, *types.NotImplemented:
		return codes.Unimplemented
	case *types.DuplicateName, *types.FileAlreadyExists, *types.AlreadyExists:
		return codes.AlreadyExists
	case *types.InsufficientResourcesFault, *types.NoDiskSpace, *types.OutOfBounds:
		return codes.ResourceExhausted
	case *types.NotAuthenticated, *types.NoPermission:
		return codes.PermissionDenied
	}
	return codes.Unavailable // transient: the host may be busy or unreachable
}

// vimFault finds the vSphere fault inside err, if any.
func vimFault(err error) types.BaseMethodFault {
	var te task.Error
	if errors.As(err, &te) && te.LocalizedMethodFault != nil {
		return te.Fault()
	}
	var tep *task.Error
	if errors.As(err, &tep) && tep.LocalizedMethodFault != nil {
		return tep.Fault()
	}
	// soap's checks look at err itself: walk the wrapping (fmt.Errorf("...: %w")) down.
	for ; err != nil; err = errors.Unwrap(err) {
		if f := soapFault(err); f != nil {
			return f
		}
	}
	return nil
}

func soapFault(err error) types.BaseMethodFault {
	if soap.IsSoapFault(err) {
		f := soap.ToSoapFault(err).VimFault()
		if bf, ok := f.(types.BaseMethodFault); ok {
			return bf
		}
		// SOAP decoding yields fault values; the table matches pointers.
		if f != nil {
			p := reflect.New(reflect.TypeOf(f))
			p.Elem().Set(reflect.ValueOf(f))
			if bf, ok := p.Interface().(types.BaseMethodFault); ok {
				return bf
			}
		}
	}
	if soap.IsVimFault(err) {
		return soap.ToVimFault(err)
	}
	return nil
}

// toStatus turns an error of a govmomi call into a gRPC status error.
func toStatus(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var nf *find.NotFoundError
	if errors.As(err, &nf) {
		return status.Errorf(codes.NotFound, "%s: %v", op, err)
	}
	var dnf object.DatastoreNoSuchFileError
	if errors.As(err, &dnf) {
		return status.Errorf(codes.NotFound, "%s: %v", op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.Errorf(codes.Unavailable, "%s: %v", op, err)
	}
	if f := vimFault(err); f != nil {
		return status.Errorf(faultCode(f), "%s: %v", op, err)
	}
	return status.Errorf(codes.Unavailable, "%s: %v", op, err)
}
