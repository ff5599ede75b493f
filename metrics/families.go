package metrics

// Kind is a family's Prometheus type.
type Kind string

// Kinds.
const (
	KindCounter   Kind = "counter"
	KindGauge     Kind = "gauge"
	KindHistogram Kind = "histogram"
)

// Family is one metric family Photon exports: its Prometheus name (units and _total
// included), type, help, labels (in the order instruments give their values) and, for a
// histogram, its buckets.
type Family struct {
	Name    string
	Kind    Kind
	Unit    string
	Help    string
	Labels  []string
	Buckets []float64
}

// Series are the names a family's samples carry in the exposition: a histogram's
// _bucket, _sum and _count, the name itself otherwise.
func (f *Family) Series() []string {
	if f.Kind == KindHistogram {
		return []string{f.Name + "_bucket", f.Name + "_sum", f.Name + "_count"}
	}
	return []string{f.Name}
}

// Buckets, in seconds.
var (
	// requestBuckets suit an API call or a Redis command: 1 ms to 10 s.
	requestBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// stepBuckets suit a step or a vSphere call: 5 ms to 2 min.
	stepBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
	// chainBuckets suit a whole chain: 50 ms to 30 min (a service's chain waits for its nodes).
	chainBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}
)

// The families, by the part that measures them.
var (
	// The gateway.
	APIRequests = Family{Name: "photon_api_requests_total", Kind: KindCounter, Unit: "{request}",
		Help:   "API calls answered, by method (the gRPC method, or the route of a REST path that is none), protocol (rest, grpc) and HTTP status code.",
		Labels: []string{"method", "protocol", "code"}}
	APIRequestDuration = Family{Name: "photon_api_request_duration_seconds", Kind: KindHistogram, Unit: "s",
		Help: "How long API calls took to answer, by method and protocol.", Labels: []string{"method", "protocol"}, Buckets: requestBuckets}
	AdmissionRejections = Family{Name: "photon_admission_rejections_total", Kind: KindCounter, Unit: "{request}",
		Help:   "Calls answered 429 because the chains in flight reached --max-in-flight (reason limit) or the tenant's fair share of it (reason tenant_share).",
		Labels: []string{"reason"}}
	AdmissionInFlight = Family{Name: "photon_admission_in_flight", Kind: KindGauge, Unit: "{chain}",
		Help: "Chains admitted and not yet ended, across all gateways."}
	AdmissionLimit = Family{Name: "photon_admission_limit", Kind: KindGauge, Unit: "{chain}",
		Help: "The chains in flight at most (--max-in-flight; 0: no bound)."}
	VMs = Family{Name: "photon_vms", Kind: KindGauge, Unit: "{vm}",
		Help: "VMs by state, from the counts the store keeps with every VM write.", Labels: []string{"state"}}

	// The function runtime, on Redis Streams and behind Knative alike.
	FunctionEvents = Family{Name: "photon_function_events_handled_total", Kind: KindCounter, Unit: "{event}",
		Help:   "Events a function handled to an end, by function and outcome: ok (done, replayed or the next event sent) or failed (a permanent error: the undo chain starts).",
		Labels: []string{"function", "outcome"}}
	FunctionRetries = Family{Name: "photon_function_retries_total", Kind: KindCounter, Unit: "{event}",
		Help: "Events a function failed with a transient error, to be retried (or dead-lettered after the last attempt).", Labels: []string{"function"}}
	FunctionDeadLetters = Family{Name: "photon_function_dead_letters_total", Kind: KindCounter, Unit: "{event}",
		Help: "Events whose retries ran out, by function: their tasks fail (a forward step) or park (an undo).", Labels: []string{"function"}}
	StepDuration = Family{Name: "photon_function_step_duration_seconds", Kind: KindHistogram, Unit: "s",
		Help:   "How long a step took, by function, operation and whether it was the step's undo (true, false), whatever its outcome.",
		Labels: []string{"function", "operation", "undo"}, Buckets: stepBuckets}
	FunctionBacklog = Family{Name: "photon_function_backlog", Kind: KindGauge, Unit: "{event}",
		Help: "Events waiting in a function's stream, not yet delivered to any consumer, as its autoscaler last read it.", Labels: []string{"function"}}
	FunctionPending = Family{Name: "photon_function_events_pending", Kind: KindGauge, Unit: "{event}",
		Help: "Events delivered to this process's consumers of a function and not yet acknowledged.", Labels: []string{"function"}}
	FunctionWorkers = Family{Name: "photon_function_workers", Kind: KindGauge, Unit: "{worker}",
		Help: "Workers a function's autoscaler chose.", Labels: []string{"function"}}
	ChainDuration = Family{Name: "photon_chain_duration_seconds", Kind: KindHistogram, Unit: "s",
		Help:   "From a chain's task queued to its end, by chain and the task's end state (COMPLETED, ERROR).",
		Labels: []string{"chain", "state"}, Buckets: chainBuckets}

	// The fleet, from place's index of the hosts.
	Hosts = Family{Name: "photon_hosts", Kind: KindGauge, Unit: "{host}",
		Help: "Hosts by state.", Labels: []string{"state"}}
	FleetCPUs = Family{Name: "photon_fleet_cpus", Kind: KindGauge, Unit: "{cpu}",
		Help: "CPU cores of all hosts (kind capacity) and vCPUs Photon reserved on them (kind reserved).", Labels: []string{"kind"}}
	FleetMemory = Family{Name: "photon_fleet_memory_bytes", Kind: KindGauge, Unit: "By",
		Help: "Memory of all hosts (kind capacity) and what Photon reserved of it (kind reserved).", Labels: []string{"kind"}}
	FleetDatastore = Family{Name: "photon_fleet_datastore_bytes", Kind: KindGauge, Unit: "By",
		Help: "Datastore space of all hosts (kind capacity) and what Photon reserved of it (kind reserved), per host: a datastore several hosts mount counts once for each.", Labels: []string{"kind"}}

	// Redis, from every process's client.
	RedisDuration = Family{Name: "photon_redis_command_duration_seconds", Kind: KindHistogram, Unit: "s",
		Help:   "Redis round trips, by command (pipeline for a pipeline or transaction) and outcome (ok, error; a missing key is ok).",
		Labels: []string{"command", "outcome"}, Buckets: requestBuckets}

	// hostd.
	VSphereDuration = Family{Name: "photon_vsphere_call_duration_seconds", Kind: KindHistogram, Unit: "s",
		Help:   "hostd's vSphere API calls, by method (CreateVM_Task, PowerOnVM_Task, ...) and outcome (ok, fault, error).",
		Labels: []string{"method", "outcome"}, Buckets: stepBuckets}

	// The notifier.
	SubscriptionDelivery = Family{Name: "photon_subscription_delivery_duration_seconds", Kind: KindHistogram, Unit: "s",
		Help:   "From an event's first delivery attempt to a subscription's sink to its end, retries included, by outcome (delivered, dead_letter).",
		Labels: []string{"outcome"}, Buckets: stepBuckets}
	SubscriptionQueue = Family{Name: "photon_subscription_queue_depth", Kind: KindGauge, Unit: "{event}",
		Help: "Events queued for delivery, over all subscriptions of this notifier."}
	Subscriptions = Family{Name: "photon_subscriptions", Kind: KindGauge, Unit: "{subscription}",
		Help: "Subscriptions this notifier delivers to."}
)

// Families is the catalogue: every family Photon exports.
var Families = []*Family{
	&APIRequests, &APIRequestDuration, &AdmissionRejections, &AdmissionInFlight, &AdmissionLimit, &VMs,
	&FunctionEvents, &FunctionRetries, &FunctionDeadLetters, &StepDuration, &FunctionBacklog, &FunctionPending, &FunctionWorkers, &ChainDuration,
	&Hosts, &FleetCPUs, &FleetMemory, &FleetDatastore,
	&RedisDuration, &VSphereDuration,
	&SubscriptionDelivery, &SubscriptionQueue, &Subscriptions,
}

// Lookup is the family of a name: the family's own, or one of its series (a
// histogram's _bucket, _sum or _count).
func Lookup(series string) (*Family, bool) {
	for _, f := range Families {
		if f.Name == series {
			return f, true
		}
		for _, s := range f.Series() {
			if s == series {
				return f, true
			}
		}
	}
	return nil, false
}
