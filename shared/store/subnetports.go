package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Photon's IPAM. Each subnet has one address table, a hash (photon:subnetports:{id}):
//
//	first, last   the range handed out, as integers (absent: the subnet hands out none)
//	next          where the next search starts (next fit: a released address is not
//	              handed out again before the others)
//	a:<n>         address n is held by owner
//	o:<owner>     owner holds address n ("" on a subnet without addresses)
//	p:<owner>     the NSX logical port of owner's NIC
//	count         how many owners the subnet has: VMs connected to it
//	closed        set when the subnet is being deleted: nothing more is handed out
//
// An owner is one NIC of one VM ("<vm>/<nic>"). Allocating for an owner that holds an
// address answers that address, so a replayed step takes nothing twice; one Lua script per
// change makes two owners never get one address.

// HostRange is the range of addresses Photon hands out on an IPv4 CIDR: all but the
// network address, the gateway (the first address after it) and the broadcast address.
func HostRange(cidr string) (first, last netip.Addr, ok bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Addr{}, netip.Addr{}, false
	}
	p = p.Masked()
	n := addrInt(p.Addr())
	size := uint32(1) << (32 - p.Bits())
	return intAddr(n + 2), intAddr(n + size - 2), true
}

// ReservedIPs are a subnet's addresses that Photon never hands out, by Photon's names.
func ReservedIPs(cidr string) map[string]string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return nil
	}
	p = p.Masked()
	n := addrInt(p.Addr())
	size := uint32(1) << (32 - p.Bits())
	return map[string]string{"NETWORK": p.Addr().String(), "GATEWAY": intAddr(n + 1).String(),
		"BROADCAST": intAddr(n + size - 1).String()}
}

// Gateway is the router's address on the subnet, with the prefix length (10.0.0.1/24).
func Gateway(cidr string) (string, bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return "", false
	}
	p = p.Masked()
	return netip.PrefixFrom(intAddr(addrInt(p.Addr())+1), p.Bits()).String(), true
}

func addrInt(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func intAddr(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}

var allocateIP = redis.NewScript(`
local k, owner = KEYS[1], ARGV[1]
if redis.call('EXISTS', k) == 0 then return {'gone'} end
local have = redis.call('HGET', k, 'o:' .. owner)
if have then return {'ok', have} end
if redis.call('HEXISTS', k, 'closed') == 1 then return {'closed'} end
local first = redis.call('HGET', k, 'first')
if not first then
  redis.call('HSET', k, 'o:' .. owner, '')
  redis.call('HINCRBY', k, 'count', 1)
  return {'ok', ''}
end
first = tonumber(first)
local last = tonumber(redis.call('HGET', k, 'last'))
local size = last - first + 1
local start = tonumber(redis.call('HGET', k, 'next') or first)
if start < first or start > last then start = first end
for i = 0, size - 1 do
  local n = string.format('%d', first + (start - first + i) % size)
  if redis.call('HSETNX', k, 'a:' .. n, owner) == 1 then
    redis.call('HSET', k, 'o:' .. owner, n, 'next', string.format('%d', tonumber(n) + 1))
    redis.call('HINCRBY', k, 'count', 1)
    return {'ok', n}
  end
end
return {'full'}
`)

var releaseIP = redis.NewScript(`
local k, owner = KEYS[1], ARGV[1]
local n = redis.call('HGET', k, 'o:' .. owner)
if not n then return 0 end
if n ~= '' then redis.call('HDEL', k, 'a:' .. n) end
redis.call('HDEL', k, 'o:' .. owner, 'p:' .. owner)
redis.call('HINCRBY', k, 'count', -1)
return 1
`)

// AllocateIP gives owner an address on the subnet ("" on a subnet without a CIDR) and
// counts it as connected, or answers the address owner already holds. A subnet that is
// gone is NotFound, one being deleted StateError, a full one StateError too.
func (s *Store) AllocateIP(ctx context.Context, subnet, owner string) (string, error) {
	res, err := allocateIP.Run(ctx, s.rdb, []string{s.subnetPortsKey(subnet)}, owner).StringSlice()
	if err != nil {
		return "", fmt.Errorf("allocate IP on subnet %s: %w", subnet, err)
	}
	switch res[0] {
	case "ok":
		if res[1] == "" {
			return "", nil
		}
		n, err := strconv.ParseUint(res[1], 10, 32)
		if err != nil {
			return "", fmt.Errorf("allocate IP on subnet %s: bad address %q", subnet, res[1])
		}
		return intAddr(uint32(n)).String(), nil
	case "gone":
		return "", errs.NotFound("Subnet", subnet)
	case "closed":
		return "", errs.New(errs.CodeStateError, "Subnet #%s is being deleted", subnet)
	case "full":
		return "", errs.New(errs.CodeStateError, "Subnet #%s has no free IP address", subnet).WithData("subnet", subnet)
	}
	return "", fmt.Errorf("allocate IP on subnet %s: unexpected reply %v", subnet, res)
}

// ReleaseIP gives owner's address back and disconnects it from the subnet. It reports
// whether owner held one; releasing twice changes nothing.
func (s *Store) ReleaseIP(ctx context.Context, subnet, owner string) (bool, error) {
	n, err := releaseIP.Run(ctx, s.rdb, []string{s.subnetPortsKey(subnet)}, owner).Int()
	if err != nil {
		return false, fmt.Errorf("release IP on subnet %s: %w", subnet, err)
	}
	return n == 1, nil
}

// SetPort records the NSX logical port of owner's NIC on the subnet.
func (s *Store) SetPort(ctx context.Context, subnet, owner, portID string) error {
	return s.rdb.HSet(ctx, s.subnetPortsKey(subnet), "p:"+owner, portID).Err()
}

// Port is the NSX logical port recorded for owner's NIC on the subnet, or "".
func (s *Store) Port(ctx context.Context, subnet, owner string) (string, error) {
	p, err := s.rdb.HGet(ctx, s.subnetPortsKey(subnet), "p:"+owner).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return p, err
}

// SubnetUsage is how many NICs are connected to the subnet and how many addresses it holds.
func (s *Store) SubnetUsage(ctx context.Context, subnet string) (connected, addresses int, err error) {
	h, err := s.rdb.HGetAll(ctx, s.subnetPortsKey(subnet)).Result()
	if err != nil {
		return 0, 0, err
	}
	connected, _ = strconv.Atoi(h["count"])
	for f := range h {
		if len(f) > 2 && f[:2] == "a:" {
			addresses++
		}
	}
	return connected, addresses, nil
}

// StartSubnetDelete marks the subnet DELETING for task and closes its address table,
// unless VMs are connected to it (StateError) or another task holds it (ConcurrentTask).
// It is atomic with allocations: one that races it makes it look again.
func (s *Store) StartSubnetDelete(ctx context.Context, id string, task *model.Task) (*model.Subnet, error) {
	var out *model.Subnet
	keys := []string{s.entityKey(model.KindSubnet, id), s.subnetPortsKey(id)}
	err := s.watch(ctx, keys, func(tx *redis.Tx) (*Batch, error) {
		sn, err := Get[model.Subnet](ctx, s, model.KindSubnet, id)
		if err != nil {
			return nil, err
		}
		if sn.ActiveTask != "" {
			return nil, errs.New(errs.CodeConcurrentTask, "Subnet #%s is busy with task %s", sn.ID, sn.ActiveTask).WithData("task", sn.ActiveTask)
		}
		n, err := tx.HGet(ctx, keys[1], "count").Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		if n > 0 {
			return nil, errs.New(errs.CodeStateError, "Subnet #%s is in use by %d VM network connections", sn.ID, n)
		}
		sn.State, sn.ActiveTask, out = model.NetDeleting, task.ID, sn
		b := new(Batch).Put(keys[0], sn).HashSet(keys[1], map[string]string{"closed": "1"})
		return s.AddTask(b, task), nil
	})
	return out, err
}

// VMNets records which subnets a VM's NICs go on (nic i on subnets[i]; "" is the host's
// port group), the first time it is called for the VM, and answers what was recorded: the
// create chain decides once, and its undo and the delete chain release exactly that.
func (s *Store) VMNets(ctx context.Context, vm string, subnets []string) ([]string, error) {
	raw, err := codec.Marshal(subnets)
	if err != nil {
		return nil, err
	}
	if subnets != nil {
		if err := s.rdb.SetNX(ctx, s.vmNetsKey(vm), raw, 0).Err(); err != nil {
			return nil, err
		}
	}
	b, err := s.rdb.Get(ctx, s.vmNetsKey(vm)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	if err := codec.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode networks of VM %s: %w", vm, err)
	}
	return out, nil
}

// ForgetVMNets drops the record of a VM's subnets once everything on them is released.
func (s *Store) ForgetVMNets(ctx context.Context, vm string) error {
	return s.rdb.Del(ctx, s.vmNetsKey(vm)).Err()
}
