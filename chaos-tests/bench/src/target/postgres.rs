//! PostgreSQL as a ticket store, the textbook way: a row per category with
//! `sold` and `held`, a hold as one conditional
//! `UPDATE ... WHERE sold + held + q <= capacity` (the row lock serialises
//! concurrent holds, no retries),
//! a purchase as one transaction (hold → purchased, counters, one row per
//! ticket). One server with `fsync` and `synchronous_commit = on`: durable
//! on its disk, not replicated. The benchmark expires abandoned holds.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Statement};

use super::{CategoryCount, HoldExpiry, HoldTicket, OpError, Payment, SystemProfile, Target};
use crate::error::BenchError;
use crate::plan::SalePlan;

/// The tables of the sale.
const SCHEMA: &str = "
CREATE TABLE categories (
    id int PRIMARY KEY, name text NOT NULL, capacity int NOT NULL,
    sold int NOT NULL DEFAULT 0, held int NOT NULL DEFAULT 0,
    CHECK (sold >= 0 AND held >= 0 AND sold + held <= capacity));
CREATE TABLE queue (seq bigserial PRIMARY KEY, customer text NOT NULL UNIQUE);
CREATE TABLE holds (
    id bigserial PRIMARY KEY, customer text NOT NULL, category int NOT NULL REFERENCES categories,
    quantity int NOT NULL, status text NOT NULL, expires_at timestamptz NOT NULL);
CREATE TABLE tickets (
    id bigserial PRIMARY KEY, hold_id bigint NOT NULL REFERENCES holds,
    customer text NOT NULL, category int NOT NULL);";

const JOIN: &str = "INSERT INTO queue (customer) VALUES ($1) ON CONFLICT (customer) DO NOTHING";
const STATUS: &str = "SELECT seq FROM queue WHERE customer = $1";
const HOLD: &str = "WITH c AS (
        UPDATE categories SET held = held + $2::int
        WHERE id = $1 AND sold + held + $2 <= capacity RETURNING id)
    INSERT INTO holds (customer, category, quantity, status, expires_at)
    SELECT $3::text, id, $2::int, 'live', now() + make_interval(secs => $4::float8) FROM c RETURNING id";
const TAKE_HOLD: &str =
    "UPDATE holds SET status = 'purchased' WHERE id = $1 AND customer = $2 AND status = 'live' RETURNING category, quantity";
const SELL: &str = "UPDATE categories SET held = held - $2, sold = sold + $2 WHERE id = $1";
const TICKETS: &str =
    "INSERT INTO tickets (hold_id, customer, category) SELECT $1::bigint, $2::text, $3::int FROM generate_series(1, $4::int)";
const GIVE_BACK: &str = "WITH h AS (
        UPDATE holds SET status = $2 WHERE id = $1 AND status = 'live' RETURNING category, quantity)
    UPDATE categories c SET held = c.held - h.quantity FROM h WHERE c.id = h.category RETURNING c.id";
const OUTCOME: &str = "SELECT name, capacity, sold, held FROM categories ORDER BY id";

/// One connection and its prepared statements.
struct Conn {
    client: Client,
    join: Statement,
    status: Statement,
    hold: Statement,
    take_hold: Statement,
    sell: Statement,
    tickets: Statement,
    give_back: Statement,
}

/// The sale on one PostgreSQL server, through a fixed pool of connections.
pub struct PostgresTarget {
    pool: Vec<Mutex<Conn>>,
    plan: Arc<SalePlan>,
}

/// A database error as the report counts it.
fn op_error(error: tokio_postgres::Error) -> OpError {
    if error.is_closed() {
        OpError::Unavailable(error.to_string())
    } else {
        OpError::Other(error.to_string())
    }
}

async fn connect_one(port: u16) -> Result<Client, tokio_postgres::Error> {
    let config =
        format!("host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5");
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; errors
        // then surface on the client's next call.
        let _ = connection.await;
    });
    Ok(client)
}

async fn prepare_conn(client: Client) -> Result<Conn, tokio_postgres::Error> {
    Ok(Conn {
        join: client.prepare(JOIN).await?,
        status: client.prepare(STATUS).await?,
        hold: client.prepare(HOLD).await?,
        take_hold: client.prepare(TAKE_HOLD).await?,
        sell: client.prepare(SELL).await?,
        tickets: client.prepare(TICKETS).await?,
        give_back: client.prepare(GIVE_BACK).await?,
        client,
    })
}

impl PostgresTarget {
    /// Opens `pool` connections to the server on 127.0.0.1:`port`, creating
    /// the tables first.
    pub async fn connect(
        port: u16,
        pool: usize,
        plan: Arc<SalePlan>,
    ) -> Result<PostgresTarget, BenchError> {
        let unreachable = |e: tokio_postgres::Error| BenchError::TargetUnreachable {
            system: "PostgreSQL".into(),
            addrs: format!("127.0.0.1:{port}"),
            reason: e.to_string(),
        };
        let setup = |e: tokio_postgres::Error| BenchError::Setup {
            system: "PostgreSQL".into(),
            reason: e.to_string(),
        };
        let first = connect_one(port).await.map_err(unreachable)?;
        first.batch_execute(SCHEMA).await.map_err(setup)?;
        let mut conns = vec![Mutex::new(prepare_conn(first).await.map_err(setup)?)];
        for _ in 1..pool {
            let client = connect_one(port).await.map_err(unreachable)?;
            conns.push(Mutex::new(prepare_conn(client).await.map_err(setup)?));
        }
        Ok(PostgresTarget { pool: conns, plan })
    }

    fn conn(&self, customer: u64) -> &Mutex<Conn> {
        &self.pool[(customer % self.pool.len() as u64) as usize]
    }

    /// Ends a live hold with `status`, returning its tickets; false if it was not live.
    async fn give_back(&self, hold: &HoldTicket, status: &str) -> Result<bool, OpError> {
        let conn = self.conn(hold.customer).lock().await;
        let id = i64::try_from(hold.id).unwrap_or(i64::MAX);
        let rows = conn
            .client
            .query(&conn.give_back, &[&id, &status])
            .await
            .map_err(op_error)?;
        Ok(!rows.is_empty())
    }
}

impl Target for PostgresTarget {
    const PROFILE: SystemProfile = SystemProfile::new(
        "postgres",
        "one server: WAL fsync before the answer (synchronous_commit = on), not replicated",
        HoldExpiry::ByBench,
    );

    async fn prepare(&self) -> Result<(), BenchError> {
        let conn = self.pool[0].lock().await;
        for (i, category) in self.plan.categories.iter().enumerate() {
            let id = i as i32;
            let capacity = i32::try_from(category.capacity).unwrap_or(i32::MAX);
            conn.client
                .execute(
                    "INSERT INTO categories (id, name, capacity) VALUES ($1, $2, $3)",
                    &[&id, &category.id, &capacity],
                )
                .await
                .map_err(|e| BenchError::Setup {
                    system: "PostgreSQL".into(),
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }

    async fn join_queue(&self, customer: u64) -> Result<(), OpError> {
        let id = self.plan.customer_id(customer);
        let conn = self.conn(customer).lock().await;
        conn.client
            .execute(&conn.join, &[&id])
            .await
            .map(|_| ())
            .map_err(op_error)
    }

    async fn admitted(&self, customer: u64) -> Result<bool, OpError> {
        let id = self.plan.customer_id(customer);
        let conn = self.conn(customer).lock().await;
        let rows = conn
            .client
            .query(&conn.status, &[&id])
            .await
            .map_err(op_error)?;
        // No admission controller: whoever is in line may shop.
        Ok(!rows.is_empty())
    }

    async fn hold(&self, customer: u64, category: usize, quantity: u32) -> Result<u64, OpError> {
        let owner = self.plan.customer_id(customer);
        let cat = category as i32;
        let q = quantity as i32;
        let ttl = self.plan.hold_ttl_secs as f64;
        let conn = self.conn(customer).lock().await;
        let rows = conn
            .client
            .query(&conn.hold, &[&cat, &q, &owner, &ttl])
            .await
            .map_err(op_error)?;
        let row = rows
            .first()
            .ok_or_else(|| OpError::Rejected("sold_out".into()))?;
        let id: i64 = row.try_get(0).map_err(op_error)?;
        Ok(id as u64)
    }

    async fn purchase(&self, hold: &HoldTicket, payment: Payment) -> Result<u64, OpError> {
        let customer = hold.customer;
        if payment == Payment::Decline {
            return if self.give_back(hold, "declined").await? {
                Err(OpError::Rejected("payment_declined".into()))
            } else {
                Err(OpError::Rejected("hold_expired".into()))
            };
        }
        let owner = self.plan.customer_id(customer);
        let id = i64::try_from(hold.id).unwrap_or(i64::MAX);
        let mut guard = self.conn(customer).lock().await;
        let conn = &mut *guard;
        let tx = conn.client.transaction().await.map_err(op_error)?;
        let rows = tx
            .query(&conn.take_hold, &[&id, &owner])
            .await
            .map_err(op_error)?;
        let Some(row) = rows.first() else {
            tx.rollback().await.map_err(op_error)?;
            return Err(OpError::Rejected("hold_expired".into()));
        };
        let category: i32 = row.try_get(0).map_err(op_error)?;
        let quantity: i32 = row.try_get(1).map_err(op_error)?;
        tx.execute(&conn.sell, &[&category, &quantity])
            .await
            .map_err(op_error)?;
        tx.execute(&conn.tickets, &[&id, &owner, &category, &quantity])
            .await
            .map_err(op_error)?;
        tx.commit().await.map_err(op_error)?;
        Ok(u64::try_from(quantity).unwrap_or(0))
    }

    async fn release(&self, hold: &HoldTicket) -> Result<(), OpError> {
        if self.give_back(hold, "released").await? {
            Ok(())
        } else {
            Err(OpError::Rejected("hold_expired".into()))
        }
    }

    async fn expire(&self, hold: &HoldTicket) -> Result<(), OpError> {
        self.give_back(hold, "expired").await.map(|_| ())
    }

    async fn outcome(&self) -> Result<Vec<CategoryCount>, BenchError> {
        let read_back = |e: tokio_postgres::Error| BenchError::ReadBack {
            system: "PostgreSQL".into(),
            reason: e.to_string(),
        };
        let conn = self.pool[0].lock().await;
        let rows = conn.client.query(OUTCOME, &[]).await.map_err(read_back)?;
        let mut counts = Vec::new();
        for row in rows {
            let name: String = row.try_get(0).map_err(read_back)?;
            let capacity: i32 = row.try_get(1).map_err(read_back)?;
            let sold: i32 = row.try_get(2).map_err(read_back)?;
            let held: i32 = row.try_get(3).map_err(read_back)?;
            counts.push(CategoryCount {
                category: name,
                capacity: u64::try_from(capacity).unwrap_or(0),
                sold: u64::try_from(sold).unwrap_or(0),
                held: u64::try_from(held).unwrap_or(0),
            });
        }
        Ok(counts)
    }
}
