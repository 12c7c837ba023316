//! A steady purchase load for fault and operations tests: buyers hold and pay
//! one ticket at a time, and every acknowledged sale is recorded, so a test
//! can check afterwards that none was lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ingressoja_client::Client;
use tokio::task::JoinHandle;

use crate::register;

/// Acknowledged sales: ticket id → customer.
pub type Sold = BTreeMap<String, String>;

/// Buyers `load0`, `load1`, ... buying one `rock`/`pista` ticket at a time until stopped.
pub struct PurchaseLoad {
    buyers: usize,
    stop: Arc<AtomicBool>,
    sold: Arc<Mutex<Sold>>,
    tasks: Vec<JoinHandle<()>>,
}

impl PurchaseLoad {
    /// Registers `buyers` customers (CPFs from number 5000 on) and starts them.
    pub fn start(client: &Client, buyers: usize) -> PurchaseLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let sold = Arc::new(Mutex::new(Sold::new()));
        let tasks = (0..buyers)
            .map(|b| {
                let (client, stop, sold) = (client.clone(), stop.clone(), sold.clone());
                tokio::spawn(async move {
                    let customer = PurchaseLoad::customer(b);
                    register(&client, &customer, 5_000 + b as u64).await;
                    while !stop.load(Ordering::Relaxed) {
                        // A failed call is not acknowledged; only acknowledged
                        // sales must survive.
                        let Ok(hold) = client.place_hold("rock", "pista", &customer, 1).await
                        else {
                            continue;
                        };
                        let Some(hold) = hold.hold else { continue };
                        if let Ok(bought) = client.purchase(hold.hold_id, &customer).await {
                            let mut sold = sold.lock().unwrap_or_else(|p| p.into_inner());
                            for ticket in bought.tickets {
                                sold.insert(ticket.ticket_id, customer.clone());
                            }
                        }
                    }
                })
            })
            .collect();
        PurchaseLoad {
            buyers,
            stop,
            sold,
            tasks,
        }
    }

    /// The id of buyer `b`.
    pub fn customer(b: usize) -> String {
        format!("load{b}")
    }

    /// The sales acknowledged so far.
    pub fn acknowledged(&self) -> Sold {
        self.sold.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops the buyers, waits for their last calls, and returns every acknowledged sale.
    pub async fn stop(self) -> Sold {
        self.stop.store(true, Ordering::Relaxed);
        let sold = self.sold.clone();
        for task in self.tasks {
            task.await.expect("load task");
        }
        let sold = sold.lock().unwrap_or_else(|p| p.into_inner()).clone();
        sold
    }

    /// How many buyers run.
    pub fn buyers(&self) -> usize {
        self.buyers
    }
}

/// Reads back the tickets of the first `buyers` load customers through
/// `reader`, asserts that every sale in `sold` is stored for its buyer, and
/// returns what is stored.
pub async fn assert_stored(reader: &Client, buyers: usize, sold: &Sold) -> Sold {
    let mut stored = Sold::new();
    for b in 0..buyers {
        let tickets = reader
            .list_tickets(&PurchaseLoad::customer(b))
            .await
            .expect("tickets");
        for ticket in tickets.tickets {
            stored.insert(ticket.ticket_id, ticket.customer_id);
        }
    }
    for (ticket, customer) in sold {
        assert_eq!(
            stored.get(ticket),
            Some(customer),
            "acknowledged ticket {ticket} lost"
        );
    }
    stored
}
