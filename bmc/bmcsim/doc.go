// Package bmcsim is a Redfish BMC emulator for tests and demos (for
// instance a future "mtcagent -sim").
//
// It serves a realistic service tree: the service root, Systems/1 (power
// state, Boot override, the ComputerSystem.Reset action with its
// AllowableValues or an ActionInfo, any restricted list such as
// GracefulOnlyResetTypes), Chassis/1 with its sensors, Managers/1, and a
// SessionService. The sensors are published in the older model (Thermal,
// Power), the newer one (Sensors, ThermalSubsystem/Fans,
// PowerSubsystem/PowerSupplies with PowerSupplyMetrics) or both, with
// DataSourceUri links from the subsystems into Sensors ([SensorModel]).
// Chassis/1 can be a blade contained by Chassis/Enclosure with sensors of
// its own (Config.Enclosure), and Sensors collections can be expanded
// inline ($expand=., Config.ExpandQuery). Reset actions and Boot PATCHes change
// the emulated state; a one-time boot override is consumed by the next
// boot, as on real hardware. Authentication is HTTP basic or an
// X-Auth-Token from a session; only the service root is public.
//
// Faults can be injected per method and path prefix ([Server.InjectFault]):
// 401, 404, 500, slow answers, hung requests, and malformed JSON.
//
// # Serving
//
//   - Over real loopback: [Server] is an http.Handler, so
//     httptest.NewTLSServer(sim) gives a TLS BMC whose certificate is
//     srv.Certificate().
//   - In memory: [Server.Transport] is an http.RoundTripper that calls the
//     handler directly. It honours request contexts, so hung and slow
//     faults follow the virtual clock inside a testing/synctest bubble.
//
// # Guarantees
//
// All methods are safe for concurrent use. [Server.Close] releases every
// request blocked by FaultHang and is idempotent; the caller must call it
// (or cancel the hung requests' contexts) before shutting an httptest
// server down. The emulator does not import the bmc packages, so its
// documents are an independent check of the Redfish driver's decoders.
package bmcsim
