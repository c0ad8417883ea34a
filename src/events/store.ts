// The bounded in-memory boot history: a ring of recent events with monotonic ids, and one timeline per client.
// Plain data structures and an injected clock; the HTTP routes and the dashboard read it, the services feed it.
import { clientKindName } from '../boot/platform.ts';
import type { BootEvent, BootEventInput, BootEventSink } from './model.ts';

/** The steps of a netboot, in the order a PC goes through them. */
export const BOOT_STEPS = ['dhcp', 'tftp', 'script', 'menu', 'kernel', 'initrd', 'files'] as const;

/** One of BOOT_STEPS. */
export type BootStep = (typeof BOOT_STEPS)[number];

/** The latest state of one step of a client's boot. */
export interface StepView {
  at: number;
  ok: boolean;
  /** What was offered or fetched (a file name or URL path), or why it failed. */
  detail: string;
  /** Bytes fetched in this step (summed over several initrds or image files). */
  bytes?: number;
  /** Bytes per second of the last fetch, when it took measurable time. */
  rate?: number;
  /** Fetches summed into this step. */
  count: number;
}

/** What the dashboard and /api/clients show about one machine. */
export interface ClientView {
  /** The MAC, or "ip:<address>" while only the address is known. */
  key: string;
  mac?: string;
  /**
   * false when `mac` is only what the machine claimed in boot.ipxe?mac=, which DHCP never confirmed for its
   * address (the row is then keyed by the address); absent when DHCP learnt the MAC.
   */
  macVerified?: false;
  ip?: string;
  /** The ProxyDHCP classification of its last offer, e.g. "bios-pxe". */
  firmware?: string;
  /** `firmware` as the platform table names it, e.g. "BIOS, PXE"; what the dashboard shows. */
  platform?: string;
  vendorClass?: string;
  firstSeen: number;
  lastSeen: number;
  /** The step of the last event filed for it. */
  step?: BootStep;
  stepOk: boolean;
  /** The image whose kernel it fetched last. */
  image?: string;
  timeline: Partial<Record<BootStep, StepView>>;
}

/** Called for every recorded event, with the client it changed; `replaced` names a client row merged into it. */
export type EventListener = (event: BootEvent, client: ClientView | undefined, replaced: string | undefined) => void;

/** Bounds and clock of a store. */
export interface EventStoreOptions {
  now: () => number;
  /** Clients kept, the most recently seen; default 100. */
  maxClients?: number;
  /** Events kept for `since` queries and streams; default 2000. */
  maxEvents?: number;
  /** Events kept per client timeline; default 200. */
  maxClientEvents?: number;
}

/** The boot history; also a sink, so services can feed it directly. */
export interface EventStore extends BootEventSink {
  /** Files an event and returns it, or undefined when it is not kept (a non-netboot DHCP packet from a stranger). */
  record(input: BootEventInput): BootEvent | undefined;
  /** Kept events with an id greater than `id`, oldest first, at most `limit`. */
  since(id: number, limit?: number): BootEvent[];
  /** The id of the newest event (0 before the first). */
  lastId(): number;
  /** Every kept client, most recently seen first. */
  clients(): ClientView[];
  /** One client's view and its own events, oldest first. */
  client(key: string): { view: ClientView; events: BootEvent[] } | undefined;
  /** The MAC that DHCP last saw with an IPv4 address. */
  macOf(ip: string): string | undefined;
  /** How many IPv4 → MAC pairs are remembered; at most 4 × maxClients. */
  knownAddresses(): number;
  /** Calls listener for every event recorded from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void;
  /** Applies a new client bound (config reload), evicting the oldest clients at once. */
  setMaxClients(maxClients: number): void;
}

interface ClientRecord {
  view: ClientView;
  events: BootEvent[];
}

const STEP_RANK: Readonly<Record<BootStep, number>> = Object.fromEntries(BOOT_STEPS.map((step, rank) => [step, rank])) as Record<BootStep, number>;

/** Creates an empty store. */
export function createEventStore(options: EventStoreOptions): EventStore {
  let maxClients = options.maxClients ?? 100;
  const maxEvents = options.maxEvents ?? 2000;
  const maxClientEvents = options.maxClientEvents ?? 200;
  const events: BootEvent[] = [];
  // Map order is recency: a client is deleted and re-inserted whenever it is seen.
  const clients = new Map<string, ClientRecord>();
  const macByIp = new Map<string, string>();
  const listeners = new Set<EventListener>();
  let nextId = 1;

  // Both maps are LRU (Map order is recency) and trimmed after every change, whatever packet made it: DHCP packets
  // of machines that are not netboot clients teach addresses too, and 300,000 of them once grew this by 37 MB.
  const evict = (): void => {
    for (const key of clients.keys()) {
      if (clients.size <= maxClients) break;
      clients.delete(key);
    }
    // Addresses of clients long gone are not worth keeping; four per kept client covers address changes.
    for (const ip of macByIp.keys()) {
      if (macByIp.size <= maxClients * 4) break;
      macByIp.delete(ip);
    }
  };

  /** Remembers ip → mac as DHCP saw it and folds a row known only by that address into the MAC's row. */
  const learn = (ip: string, mac: string): string | undefined => {
    macByIp.delete(ip);
    macByIp.set(ip, mac);
    evict();
    const anonymous = clients.get(`ip:${ip}`);
    if (!anonymous) return undefined;
    clients.delete(`ip:${ip}`);
    const target = clients.get(mac) ?? { view: emptyView(mac, anonymous.view.firstSeen), events: [] };
    target.view.mac = mac;
    // DHCP now vouches for the row: a MAC the address claimed before is replaced by the learnt one.
    delete target.view.macVerified;
    for (const event of anonymous.events) {
      event.client = mac;
      target.events.push(event);
      applyToView(target.view, event);
    }
    target.events.sort((a, b) => a.id - b.id);
    target.events.splice(0, Math.max(0, target.events.length - maxClientEvents));
    clients.set(mac, target);
    return `ip:${ip}`;
  };

  const store: EventStore = {
    record(input) {
      const at = options.now();
      let key: string | undefined;
      let replaced: string | undefined;
      let macVerified: boolean | undefined;
      if (input.kind === 'dhcp-offer' || input.kind === 'dhcp-ignored') {
        const ip = input.ip;
        if (input.kind === 'dhcp-ignored' && !input.netbootVendor && !clients.has(input.mac)) {
          // Every phone and printer on the LAN asks for an address: only netboot clients and machines
          // already seen booting get a row. The address is still worth remembering for TFTP and HTTP.
          if (ip !== undefined) learn(ip, input.mac);
          return undefined;
        }
        if (ip !== undefined) replaced = learn(ip, input.mac);
        key = input.mac;
      } else if (input.kind === 'tftp-transfer' || input.kind === 'http-fetch') {
        // TFTP and HTTP only see the sender's address; DHCP alone says which MAC it belongs to. A MAC in
        // boot.ipxe?mac= is the client's word: it counts only when DHCP learnt the same MAC for that address,
        // otherwise it would let any machine file its requests under (and rewrite) another one's timeline.
        const learnt = macByIp.get(input.ip);
        if (input.kind === 'http-fetch' && input.mac !== undefined) macVerified = input.mac === learnt;
        key = learnt ?? `ip:${input.ip}`;
      }
      const event = { ...input, id: nextId++, at, client: key, ...(macVerified === undefined ? {} : { macVerified }) } as BootEvent;
      events.push(event);
      if (events.length > maxEvents) events.splice(0, events.length - maxEvents);
      let view: ClientView | undefined;
      if (key !== undefined) {
        const record = clients.get(key) ?? { view: emptyView(key, at), events: [] };
        clients.delete(key);
        clients.set(key, record);
        record.events.push(event);
        if (record.events.length > maxClientEvents) record.events.splice(0, record.events.length - maxClientEvents);
        applyToView(record.view, event);
        view = record.view;
      }
      evict();
      for (const listener of listeners) listener(event, view, replaced);
      return event;
    },
    emit(input) {
      store.record(input);
    },
    since(id, limit = maxEvents) {
      // Ids are consecutive, so the first kept event's id locates `id` without a search.
      const first = events[0]?.id ?? nextId;
      return events.slice(Math.max(0, id + 1 - first), Math.max(0, id + 1 - first) + limit);
    },
    lastId: () => nextId - 1,
    clients: () => [...clients.values()].reverse().map((record) => record.view),
    client(key) {
      const record = clients.get(key);
      return record && { view: record.view, events: [...record.events] };
    },
    macOf: (ip) => macByIp.get(ip),
    knownAddresses: () => macByIp.size,
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    setMaxClients(value) {
      maxClients = value;
      evict();
    },
  };
  return store;
}

function emptyView(key: string, at: number): ClientView {
  return { key, mac: key.startsWith('ip:') ? undefined : key, firstSeen: at, lastSeen: at, stepOk: true, timeline: {} };
}

/** Folds one event into a client's view: identity fields, the step it belongs to, and that step's numbers. */
function applyToView(view: ClientView, event: BootEvent): void {
  view.lastSeen = Math.max(view.lastSeen, event.at);
  if ('ip' in event && event.ip !== undefined) view.ip = event.ip;
  if ('vendorClass' in event && event.vendorClass !== undefined) view.vendorClass = event.vendorClass;
  // A row known only by its address shows the MAC the machine claimed, marked as unverified.
  if (event.kind === 'http-fetch' && event.macVerified === false && view.key.startsWith('ip:')) {
    view.mac = event.mac;
    view.macVerified = false;
  }
  if (event.kind === 'dhcp-offer') {
    view.firmware = event.firmware;
    const platform = clientKindName(event.firmware);
    if (platform !== undefined) view.platform = platform;
    else delete view.platform;
  }
  if (event.kind === 'http-fetch' && event.role === 'kernel' && event.image !== undefined) view.image = event.image;
  const update = stepUpdate(event);
  if (!update) return;
  // A PXE client's DHCPREQUEST to the router is ignored by design: it must not undo the offer it already got.
  if (event.kind === 'dhcp-ignored' && view.timeline.dhcp?.ok === true) return;
  const { step } = update;
  const previous = view.timeline[step];
  // A fetch of an earlier step starts a new boot: what came after it belongs to the last one. DHCP
  // is the exception, since iPXE asks for an address again in the middle of every boot.
  if (step !== 'dhcp') {
    for (const later of BOOT_STEPS) if (STEP_RANK[later] > STEP_RANK[step]) delete view.timeline[later];
  }
  const summed = (step === 'initrd' || step === 'files') && previous !== undefined && update.bytes !== undefined;
  view.timeline[step] = {
    at: event.at,
    ok: update.ok,
    detail: update.detail,
    bytes: summed ? (previous.bytes ?? 0) + (update.bytes ?? 0) : update.bytes,
    rate: update.rate,
    count: summed ? previous.count + 1 : 1,
  };
  view.step = step;
  view.stepOk = update.ok;
}

/** Which timeline step an event updates and with what; undefined for events that update none (a TFTP size probe). */
export function stepUpdate(event: BootEventInput): { step: BootStep; ok: boolean; detail: string; bytes?: number; rate?: number } | undefined {
  switch (event.kind) {
    case 'dhcp-offer':
      return { step: 'dhcp', ok: true, detail: `offered ${event.file}` };
    case 'dhcp-ignored':
      return { step: 'dhcp', ok: false, detail: `ignored: ${event.reasons.join('; ')}` };
    case 'tftp-transfer':
      // UEFI reads the size from the OACK and aborts on purpose before fetching for real.
      if (event.outcome === 'options-declined') return undefined;
      return {
        step: 'tftp',
        ok: event.outcome === 'completed',
        detail: event.outcome === 'completed' ? event.file : `${event.file}: ${event.outcome}`,
        bytes: event.bytes,
        rate: rateOf(event.bytes, event.durationMs),
      };
    case 'http-fetch': {
      const step: BootStep =
        event.role === 'boot-script' ? 'script' : event.role === 'menu' ? 'menu' : event.role === 'ipxe-binary' ? 'tftp' : event.role === 'image-file' ? 'files' : event.role;
      const ok = event.status < 400;
      return { step, ok, detail: ok ? event.path : `${event.path}: HTTP ${event.status}`, bytes: event.bytes, rate: rateOf(event.bytes, event.durationMs) };
    }
    default:
      return undefined;
  }
}

/** Bytes per second, or undefined when the transfer was too quick to time (under a millisecond). */
export function rateOf(bytes: number, durationMs: number): number | undefined {
  return durationMs >= 1 ? Math.round((bytes * 1000) / durationMs) : undefined;
}
