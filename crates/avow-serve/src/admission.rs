//! Admission control for syntheses: at most N run at once, at most Q wait
//! (first come, first served), and anyone beyond that is told at once that
//! the server is busy instead of being left hanging.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The answer to a request for a synthesis slot.
#[derive(Debug)]
pub enum Admit<'a> {
    /// A slot is held until the permit is dropped.
    Granted(Permit<'a>),
    /// All slots are taken and the queue is full.
    Busy,
    /// Waited in the queue for longer than the queue timeout.
    TimedOut,
    /// The server is shutting down.
    Closed,
}

/// A held synthesis slot.
#[derive(Debug)]
pub struct Permit<'a> {
    gate: &'a Admission,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.running -= 1;
        drop(state);
        self.gate.changed.notify_all();
    }
}

#[derive(Debug, Default)]
struct State {
    running: usize,
    /// Tickets of the waiting requests, oldest first.
    waiting: VecDeque<u64>,
    next_ticket: u64,
    closed: bool,
}

/// The slot counter shared by all connections.
#[derive(Debug)]
pub struct Admission {
    max_running: usize,
    max_waiting: usize,
    queue_timeout: Duration,
    state: Mutex<State>,
    changed: Condvar,
}

/// How many requests hold a slot and how many wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Syntheses running.
    pub running: usize,
    /// Requests queued.
    pub waiting: usize,
}

impl Admission {
    /// `max_running` slots, `max_waiting` queue places.
    pub fn new(max_running: usize, max_waiting: usize, queue_timeout: Duration) -> Self {
        Admission { max_running, max_waiting, queue_timeout, state: Mutex::new(State::default()), changed: Condvar::new() }
    }

    // A panic while holding this lock cannot leave the counters half-updated
    // (each update is one statement), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a slot, waiting in line if the queue has room.
    pub fn enter(&self) -> Admit<'_> {
        let mut state = self.lock();
        if state.closed {
            return Admit::Closed;
        }
        if state.running < self.max_running && state.waiting.is_empty() {
            state.running += 1;
            return Admit::Granted(Permit { gate: self });
        }
        if state.waiting.len() >= self.max_waiting {
            return Admit::Busy;
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push_back(ticket);
        let deadline = Instant::now() + self.queue_timeout;
        loop {
            if state.closed {
                state.waiting.retain(|t| *t != ticket);
                drop(state);
                self.changed.notify_all();
                return Admit::Closed;
            }
            if state.running < self.max_running && state.waiting.front() == Some(&ticket) {
                state.waiting.pop_front();
                state.running += 1;
                drop(state);
                // The next in line may also fit (several slots freed at once).
                self.changed.notify_all();
                return Admit::Granted(Permit { gate: self });
            }
            let now = Instant::now();
            if now >= deadline {
                state.waiting.retain(|t| *t != ticket);
                drop(state);
                self.changed.notify_all();
                return Admit::TimedOut;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Refuses new requests and wakes the queued ones (they get [`Admit::Closed`]).
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Current load.
    pub fn load(&self) -> Load {
        let state = self.lock();
        Load { running: state.running, waiting: state.waiting.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn beyond_slots_and_queue_requests_are_refused_at_once() {
        let gate = Admission::new(1, 0, Duration::from_secs(10));
        let first = gate.enter();
        assert!(matches!(first, Admit::Granted(_)));
        let started = Instant::now();
        assert!(matches!(gate.enter(), Admit::Busy));
        assert!(started.elapsed() < Duration::from_secs(1), "a refusal must not wait");
        drop(first);
        assert!(matches!(gate.enter(), Admit::Granted(_)));
    }

    #[test]
    fn a_queued_request_runs_when_a_slot_frees_and_times_out_otherwise() {
        let gate = Arc::new(Admission::new(1, 1, Duration::from_millis(200)));
        let held = match gate.enter() {
            Admit::Granted(p) => p,
            other => panic!("{other:?}"),
        };
        // Nobody frees the slot: the queued request gives up after the timeout.
        assert!(matches!(gate.enter(), Admit::TimedOut));
        assert_eq!(gate.load(), Load { running: 1, waiting: 0 });
        let waiter = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || matches!(gate.enter(), Admit::Granted(_)))
        };
        while gate.load().waiting == 0 {
            std::thread::yield_now();
        }
        drop(held);
        assert!(waiter.join().unwrap(), "the queued request should get the freed slot");
    }

    #[test]
    fn closing_wakes_the_queue_and_refuses_newcomers() {
        let gate = Arc::new(Admission::new(1, 4, Duration::from_secs(30)));
        let _held = gate.enter();
        let waiter = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || matches!(gate.enter(), Admit::Closed))
        };
        while gate.load().waiting == 0 {
            std::thread::yield_now();
        }
        gate.close();
        assert!(waiter.join().unwrap());
        assert!(matches!(gate.enter(), Admit::Closed));
    }

    #[test]
    fn the_queue_is_first_come_first_served() {
        let gate = Arc::new(Admission::new(1, 8, Duration::from_secs(30)));
        let held = gate.enter();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for i in 0..4 {
            while gate.load().waiting != i {
                std::thread::yield_now();
            }
            let (gate, order) = (Arc::clone(&gate), Arc::clone(&order));
            threads.push(std::thread::spawn(move || {
                let permit = gate.enter();
                order.lock().unwrap().push(i);
                drop(permit);
            }));
        }
        while gate.load().waiting != 4 {
            std::thread::yield_now();
        }
        drop(held);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }
}
