//! Warehouse stock: items, packages as bills of materials, lots with expiry dates, the stock
//! ledger, and the allocation planner (all package lines or none, earliest expiry first,
//! never an expired lot, never below zero).
//!
//! Quantities are whole numbers in the item's unit. Every movement of stock is a ledger entry
//! (receipt, allocation, release, adjustment, dispatch); a lot's `on_hand` is always the sum of
//! its entries' `delta_on_hand`, and `allocated` the sum of their `delta_allocated`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::i18n::Text;
use crate::validation::Invalid;

/// The warehouse every local run seeds.
pub const DEFAULT_WAREHOUSE: &str = "GUDANG-DINSOS-BKS";
pub const DEFAULT_WAREHOUSE_NAME: &str = "Gudang Dinsos Kota Bekasi";
/// The package Kota Bekasi really used in 2020.
pub const DEFAULT_PACKAGE: &str = "PAKET-SEMBAKO";

/// The most lines a stock receipt or a package may have.
///
/// With [`MAX_LOTS_PER_WRITE`], this bounds every stock write so that it fits, all or
/// nothing, in every store: the most restrictive is DynamoDB, whose `TransactWriteItems` holds
/// at most 100 items (the AWS adapter writes one item per idempotency record, delivery note, request,
/// history entry, household guard or delivery record, allocation, shipment, lot touched,
/// ledger entry, item-received marker and event; `adapters/aws/src/stock.rs` counts them).
/// The worst cases, with L = `MAX_LINES` = 25 and T = `MAX_LOTS_PER_WRITE` = 25:
///
/// | write | items | worst case |
/// |---|---|---|
/// | receipt | idempotency 1 + delivery note 1 + lots L + ledger L + markers L + event 1 = 3L + 3 | 78 |
/// | allocation | request 1 + history 1 + allocation 1 + shipment 1 + lots T + ledger T + allocated event 1 = 5 + 2T | 55 |
/// | dispatch | request 1 + history 1 + allocation 1 + shipment 1 + lots T + ledger T + event 1 = 5 + 2T | 55 |
/// | release | allocation 1 + shipment 1 + lots T + ledger T = 2 + 2T | 52 |
/// | adjustment | lots T + ledger T + adjusted event 1 = 2T + 1 | 51 |
///
/// so the largest write uses 78 of the 100 items, with a fifth to spare. (A low-stock alert
/// is a write of its own after the stock write: a mark and an event, see
/// `crate::fulfilment_ports::LowStockWatch`.)
pub const MAX_LINES: usize = 25;

/// The most lots one stock write may touch: an allocation's takes (and so its dispatch and
/// release), an adjustment's removals. See [`MAX_LINES`] for why. An allocation whose
/// earliest-expiry plan needs more lots than this is not allocated but waitlisted
/// ([`plan_allocation`]); an adjustment that would need more is refused, naming how much one
/// adjustment can remove.
pub const MAX_LOTS_PER_WRITE: usize = 25;

/// The refusal of `lines` with more than [`MAX_LINES`] entries.
pub fn too_many_lines() -> Invalid {
    Invalid::new(
        "LINES_TOO_MANY",
        "Paling banyak 25 baris barang (lines) dalam satu permintaan; bagi menjadi beberapa penerimaan.",
        "At most 25 item lines (lines) per request; split it into several.",
    )
}

fn code_like(
    raw: &str,
    code: &'static str,
    id: &'static str,
    en: &'static str,
) -> Result<String, Invalid> {
    let t = raw.trim();
    let ok = !t.is_empty()
        && t.len() <= 40
        && t.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(t.to_string())
    } else {
        Err(Invalid::new(code, id, en))
    }
}

/// An item code, e.g. `BERAS-10KG`... in practice `BERAS`: upper-case letters, digits, dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "BERAS")]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Sku, Invalid> {
        code_like(
            raw,
            "SKU_INVALID",
            "Kode barang (sku) hanya huruf besar, angka dan tanda hubung, maks. 40 karakter.",
            "An item code (sku) is upper-case letters, digits and dashes, at most 40 characters.",
        )
        .map(Sku)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Sku {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A warehouse code, e.g. `GUDANG-DINSOS-BKS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "GUDANG-DINSOS-BKS")]
pub struct WarehouseCode(String);

impl WarehouseCode {
    pub fn parse(raw: &str) -> Result<WarehouseCode, Invalid> {
        code_like(
            raw,
            "WAREHOUSE_INVALID",
            "Kode gudang hanya huruf besar, angka dan tanda hubung.",
            "A warehouse code is upper-case letters, digits and dashes.",
        )
        .map(WarehouseCode)
    }

    pub fn default_warehouse() -> WarehouseCode {
        WarehouseCode(DEFAULT_WAREHOUSE.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A package code, e.g. `PAKET-SEMBAKO`.
pub fn parse_package_code(raw: &str) -> Result<String, Invalid> {
    code_like(
        raw,
        "PACKAGE_CODE_INVALID",
        "Kode paket hanya huruf besar, angka dan tanda hubung, mis. PAKET-SEMBAKO.",
        "A package code is upper-case letters, digits and dashes, e.g. PAKET-SEMBAKO.",
    )
}

/// The most units one line may carry: a receipt line (and the lot that one receipt makes of
/// an item and expiry date), a package line, an adjustment.
///
/// One million units is 1,000 tonnes of rice in kg or a million packets of noodles: more than
/// any one delivery to a city warehouse, so a real line never meets it, while a typo or a
/// pasted number (`9223372036854775807`) is refused with the line named. And it keeps every
/// sum the system makes far from the 64-bit limit: an allocation of 20 packages is at most
/// 20,000,000 units of an item, a warehouse would need ten million million such lots before
/// its total on hand came near it.
pub const MAX_QUANTITY: u64 = 1_000_000;

/// The most units one ledger entry (one change to one lot) may move: an allocation of the
/// largest decision (20 packages) of a package line of [`MAX_QUANTITY`] is 20,000,000, and
/// this leaves room above that. The stores refuse an entry beyond it as the caller's bug
/// ([`crate::fulfilment_ports::LedgerEntry::is_sound`]), so that no lot and no sum of lots can
/// overflow however many entries it adds up.
pub const MAX_MOVEMENT: u64 = 1_000_000_000;

/// A sum or product of quantities that does not fit: never the case for quantities the use
/// cases accepted, so a sign of data written around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stock quantities out of range")]
pub struct OutOfRange;

impl From<OutOfRange> for crate::AppError {
    fn from(_: OutOfRange) -> Self {
        crate::AppError::Unavailable("stock quantities out of range".into())
    }
}

/// Adds quantities without wrapping.
pub fn sum(values: impl IntoIterator<Item = u64>) -> Result<u64, OutOfRange> {
    values
        .into_iter()
        .try_fold(0u64, |acc, v| acc.checked_add(v))
        .ok_or(OutOfRange)
}

/// A quantity as a signed ledger amount.
pub fn signed(q: u64) -> Result<i64, OutOfRange> {
    i64::try_from(q).map_err(|_| OutOfRange)
}

fn too_large() -> Invalid {
    Invalid::dynamic(
        "QUANTITY_TOO_LARGE",
        Text::new(
            "Jumlah paling banyak 1000000 per baris.",
            "The quantity is at most 1000000 per line.",
        ),
    )
}

/// A positive whole number of units, at most [`MAX_QUANTITY`]: what one line may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: Quantity = Quantity(MAX_QUANTITY as u32);

    /// `0` and `-3` are `QUANTITY_NOT_POSITIVE`, more than [`MAX_QUANTITY`] is
    /// `QUANTITY_TOO_LARGE` (`2.5` never gets here: the readers refuse it).
    pub fn parse(value: i128) -> Result<Quantity, Invalid> {
        if value < 1 {
            Err(Invalid::new(
                "QUANTITY_NOT_POSITIVE",
                "Jumlah harus bilangan bulat positif.",
                "The quantity must be a positive whole number.",
            ))
        } else if value > i128::from(MAX_QUANTITY) {
            Err(too_large())
        } else {
            Ok(Quantity(value as u32))
        }
    }

    pub fn get(self) -> u64 {
        u64::from(self.0)
    }

    /// The sum of two quantities, if it is still a quantity (lines of one item that add up
    /// into one lot or one package line).
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        let total = self.get() + other.get();
        (total <= MAX_QUANTITY).then_some(Quantity(total as u32))
    }

    /// The refusal of lines that add up to more than one line may carry.
    pub fn sum_too_large(sku: &Sku) -> Invalid {
        Invalid::dynamic(
            "QUANTITY_TOO_LARGE",
            Text::new(
                format!(
                    "Baris-baris {sku} dijumlahkan menjadi lebih dari 1000000; paling banyak 1000000 per barang."
                ),
                format!(
                    "The lines of {sku} add up to more than 1000000; at most 1000000 per item."
                ),
            ),
        )
    }
}

impl TryFrom<u64> for Quantity {
    type Error = String;

    fn try_from(v: u64) -> Result<Quantity, String> {
        Quantity::parse(i128::from(v)).map_err(|e| e.to_string())
    }
}

impl From<Quantity> for u64 {
    fn from(q: Quantity) -> u64 {
        q.get()
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A stock adjustment: so many units more, or fewer. Never 0, never more than
/// [`MAX_QUANTITY`] either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta {
    Add(Quantity),
    Remove(Quantity),
}

impl Delta {
    pub fn parse(value: i128) -> Result<Delta, Invalid> {
        if value == 0 {
            return Err(Invalid::new(
                "DELTA_ZERO",
                "Selisih penyesuaian tidak boleh 0.",
                "The adjustment cannot be 0.",
            ));
        }
        let q = Quantity::parse(value.abs()).map_err(|_| {
            Invalid::new(
                "QUANTITY_TOO_LARGE",
                "Penyesuaian paling banyak 1000000 (naik atau turun).",
                "An adjustment is at most 1000000 (up or down).",
            )
        })?;
        Ok(if value > 0 {
            Delta::Add(q)
        } else {
            Delta::Remove(q)
        })
    }

    /// The signed amount.
    pub fn amount(self) -> i64 {
        match self {
            Delta::Add(q) => q.get() as i64,
            Delta::Remove(q) => -(q.get() as i64),
        }
    }
}

/// An item the warehouse stocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Item {
    pub sku: Sku,
    pub name: String,
    /// kg, L, botol, kaleng, bungkus, pcs…
    pub unit: String,
    /// Below this available quantity a `StockLow` alert goes to the warehouse.
    pub low_threshold: u64,
    /// A retired item is kept for the record but can no longer be received or packaged.
    pub retired: bool,
}

/// One line of a package: so many units of one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PackageLine {
    pub sku: Sku,
    /// Units of the item per package: 1 to 1000000.
    #[schema(value_type = u64, minimum = 1, maximum = 1000000)]
    pub quantity: Quantity,
}

/// A food package as a bill of materials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Package {
    pub code: String,
    pub name: String,
    pub lines: Vec<PackageLine>,
    pub updated_at: DateTime<Utc>,
}

impl Package {
    /// The items the package is made of, sorted, each once.
    pub fn skus(&self) -> Vec<Sku> {
        let mut skus: Vec<Sku> = self.lines.iter().map(|l| l.sku.clone()).collect();
        skus.sort();
        skus.dedup();
        skus
    }

    /// What `packages` packages need, per item (checked: never wraps).
    pub fn needs(&self, packages: u32) -> Result<BTreeMap<Sku, u64>, OutOfRange> {
        let mut out: BTreeMap<Sku, u64> = BTreeMap::new();
        for l in &self.lines {
            let q = l
                .quantity
                .get()
                .checked_mul(u64::from(packages))
                .ok_or(OutOfRange)?;
            let total = out.entry(l.sku.clone()).or_insert(0);
            *total = total.checked_add(q).ok_or(OutOfRange)?;
        }
        Ok(out)
    }
}

/// The seed catalogue: the items of the 2020 Kota Bekasi package (DESIGN §9) with low-stock
/// thresholds of about ten packages.
pub fn seed_items() -> Vec<Item> {
    let item = |sku: &str, name: &str, unit: &str, low: u64| Item {
        sku: Sku(sku.into()),
        name: name.into(),
        unit: unit.into(),
        low_threshold: low,
        retired: false,
    };
    vec![
        item("BERAS", "Beras", "kg", 100),
        item("MINYAK-GORENG", "Minyak goreng", "L", 20),
        item("KECAP-MANIS", "Kecap manis 140 ml", "botol", 10),
        item("SAUS-SAMBAL", "Saus sambal 140 ml", "botol", 10),
        item("MAKANAN-KALENG", "Makanan kaleng 425 g", "kaleng", 30),
        item("MIE-INSTAN", "Mie instan", "bungkus", 100),
        item("BISKUIT", "Biskuit", "bungkus", 10),
    ]
}

/// `PAKET-SEMBAKO`: beras 10 kg, minyak goreng 2 L, kecap manis 1 botol, saus sambal 1 botol,
/// makanan kaleng 3 kaleng, mie instan 10 bungkus, biskuit 1 bungkus.
pub fn seed_package(now: DateTime<Utc>) -> Package {
    let line = |sku: &str, q: u32| PackageLine {
        sku: Sku(sku.into()),
        quantity: Quantity(q),
    };
    Package {
        code: DEFAULT_PACKAGE.into(),
        name: "Paket sembako Pemkot Bekasi (2020)".into(),
        lines: vec![
            line("BERAS", 10),
            line("MINYAK-GORENG", 2),
            line("KECAP-MANIS", 1),
            line("SAUS-SAMBAL", 1),
            line("MAKANAN-KALENG", 3),
            line("MIE-INSTAN", 10),
            line("BISKUIT", 1),
        ],
        updated_at: now,
    }
}

/// What a lot can still give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub lot_id: String,
    pub sku: Sku,
    pub expires_on: Option<NaiveDate>,
    pub on_hand: u64,
    pub allocated: u64,
}

impl Lot {
    pub fn available(&self) -> u64 {
        self.on_hand.saturating_sub(self.allocated)
    }

    /// A lot past its date may never be allocated.
    pub fn usable_on(&self, today: NaiveDate) -> bool {
        self.expires_on.is_none_or(|d| d >= today)
    }
}

/// Take `quantity` of a lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Take {
    pub lot_id: String,
    pub sku: Sku,
    pub quantity: u64,
    pub expires_on: Option<NaiveDate>,
}

/// Not enough usable stock for one item, or (`spread`) not within the lots one allocation may
/// touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub sku: Sku,
    pub needed: u64,
    /// What the usable lots hold; when `spread`, what the lots one allocation may still touch
    /// hold.
    pub available: u64,
    /// The stock is there but spread over more lots than one allocation may touch
    /// ([`MAX_LOTS_PER_WRITE`]).
    pub spread: bool,
}

/// Plans an allocation: every needed item from the usable lots, earliest expiry first (lots
/// without a date last, then the oldest lot: lot ids are UUIDv7, which sort by time), all
/// items or none, touching at most [`MAX_LOTS_PER_WRITE`] lots in all. An item whose need
/// cannot be met within the lots left to touch is a `spread` shortfall: the request waits
/// (as for missing stock) until allocations of others have used the small early lots, or the
/// warehouse has consolidated them.
pub fn plan_allocation(
    needs: &BTreeMap<Sku, u64>,
    lots: &[Lot],
    today: NaiveDate,
) -> Result<Vec<Take>, Vec<Shortfall>> {
    let mut takes: Vec<Take> = Vec::new();
    let mut short = Vec::new();
    for (sku, &needed) in needs {
        let mut usable: Vec<&Lot> = lots
            .iter()
            .filter(|l| &l.sku == sku && l.usable_on(today) && l.available() > 0)
            .collect();
        usable.sort_by(|a, b| {
            (a.expires_on.is_none(), a.expires_on, &a.lot_id).cmp(&(
                b.expires_on.is_none(),
                b.expires_on,
                &b.lot_id,
            ))
        });
        // Saturating is exact for the question asked: a total beyond u64 is enough for any
        // need, and a shortfall is only reported when the total is below the need.
        let available = usable
            .iter()
            .fold(0u64, |acc, l| acc.saturating_add(l.available()));
        if available < needed {
            short.push(Shortfall {
                sku: sku.clone(),
                needed,
                available,
                spread: false,
            });
            continue;
        }
        let budget = MAX_LOTS_PER_WRITE.saturating_sub(takes.len());
        let mut left = needed;
        let mut planned = Vec::new();
        for lot in usable {
            if left == 0 || planned.len() == budget {
                break;
            }
            let q = left.min(lot.available());
            planned.push(Take {
                lot_id: lot.lot_id.clone(),
                sku: sku.clone(),
                quantity: q,
                expires_on: lot.expires_on,
            });
            left -= q;
        }
        if left > 0 {
            short.push(Shortfall {
                sku: sku.clone(),
                needed,
                available: needed - left,
                spread: true,
            });
            continue;
        }
        takes.extend(planned);
    }
    if short.is_empty() {
        Ok(takes)
    } else {
        Err(short)
    }
}

/// Kinds of stock movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Movement {
    Receipt,
    Allocation,
    Release,
    Adjustment,
    Dispatch,
}

impl Movement {
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::Receipt => "receipt",
            Movement::Allocation => "allocation",
            Movement::Release => "release",
            Movement::Adjustment => "adjustment",
            Movement::Dispatch => "dispatch",
        }
    }

    /// How a movement of `q` units changes a lot: (on hand, allocated). (`q` is at most
    /// [`MAX_MOVEMENT`] either way in any entry a store accepts; the negation saturates so
    /// that even a wild `q` cannot panic here.)
    pub fn deltas(self, q: i64) -> (i64, i64) {
        let minus = q.saturating_neg();
        match self {
            Movement::Receipt => (q, 0),
            Movement::Allocation => (0, q),
            Movement::Release => (0, minus),
            Movement::Adjustment => (q, 0),
            Movement::Dispatch => (minus, minus),
        }
    }
}

/// Stock of one item in one warehouse, as `GET /v1/stock` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockLevel {
    pub warehouse: String,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub on_hand: u64,
    pub allocated: u64,
    /// On hand, not allocated, not expired.
    pub available: u64,
    /// On hand in lots past their date (cannot be allocated).
    pub expired: u64,
    pub low_threshold: u64,
    pub low: bool,
}

/// Why a stock change is refused.
pub fn below_zero(available: u64) -> Text {
    Text::new(
        format!("Stok tidak boleh di bawah nol; yang tersedia {available}."),
        format!("Stock cannot go below zero; {available} available."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn lot(id: &str, sku: &str, exp: Option<&str>, on_hand: u64, allocated: u64, seq: u64) -> Lot {
        Lot {
            lot_id: format!("{seq:03}-{id}"),
            sku: Sku::parse(sku).unwrap(),
            expires_on: exp.map(d),
            on_hand,
            allocated,
        }
    }

    fn needs(items: &[(&str, u64)]) -> BTreeMap<Sku, u64> {
        items
            .iter()
            .map(|(s, q)| (Sku::parse(s).unwrap(), *q))
            .collect()
    }

    #[test]
    fn earliest_expiry_first_and_never_expired() {
        let lots = [
            lot("late", "BERAS", Some("2027-06-01"), 50, 0, 1),
            lot("expired", "BERAS", Some("2026-11-30"), 50, 0, 2),
            lot("early", "BERAS", Some("2027-01-15"), 8, 0, 3),
            lot("nodate", "BERAS", None, 50, 0, 0),
        ];
        let takes = plan_allocation(&needs(&[("BERAS", 10)]), &lots, d("2026-12-03")).unwrap();
        assert_eq!(
            takes
                .iter()
                .map(|t| (t.lot_id.as_str(), t.quantity))
                .collect::<Vec<_>>(),
            vec![("003-early", 8), ("001-late", 2)]
        );
    }

    #[test]
    fn a_lot_is_usable_on_its_last_day() {
        let lots = [lot("a", "BERAS", Some("2026-12-03"), 10, 0, 1)];
        assert!(plan_allocation(&needs(&[("BERAS", 10)]), &lots, d("2026-12-03")).is_ok());
        assert!(plan_allocation(&needs(&[("BERAS", 10)]), &lots, d("2026-12-04")).is_err());
    }

    #[test]
    fn all_lines_or_none() {
        let lots = [
            lot("b", "BERAS", None, 100, 0, 1),
            lot("m", "MINYAK-GORENG", None, 1, 0, 2),
        ];
        let err = plan_allocation(
            &needs(&[("BERAS", 10), ("MINYAK-GORENG", 2)]),
            &lots,
            d("2026-12-03"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![Shortfall {
                sku: Sku::parse("MINYAK-GORENG").unwrap(),
                needed: 2,
                available: 1,
                spread: false
            }]
        );
    }

    #[test]
    fn an_allocation_touches_at_most_max_lots_per_write_lots() {
        // 30 lots of one unit: 25 units can be planned, 26 cannot (the stock is there, but
        // spread over more lots than one write may touch).
        let lots: Vec<Lot> = (0..30u64)
            .map(|i| lot(&format!("l{i:02}"), "BERAS", None, 1, 0, i))
            .collect();
        let ok = plan_allocation(&needs(&[("BERAS", 25)]), &lots, d("2026-12-03")).unwrap();
        assert_eq!(ok.len(), MAX_LOTS_PER_WRITE);
        let err = plan_allocation(&needs(&[("BERAS", 26)]), &lots, d("2026-12-03")).unwrap_err();
        assert_eq!(
            err,
            vec![Shortfall {
                sku: Sku::parse("BERAS").unwrap(),
                needed: 26,
                available: 25,
                spread: true
            }]
        );
        // The budget is for the whole allocation, over all its items.
        let mut more = lots.clone();
        more.extend((0..3u64).map(|i| lot(&format!("m{i}"), "MINYAK-GORENG", None, 1, 0, 40 + i)));
        let err = plan_allocation(
            &needs(&[("BERAS", 24), ("MINYAK-GORENG", 2)]),
            &more,
            d("2026-12-03"),
        )
        .unwrap_err();
        assert!(err.iter().all(|s| s.spread), "{err:?}");
        assert!(
            plan_allocation(
                &needs(&[("BERAS", 23), ("MINYAK-GORENG", 2)]),
                &more,
                d("2026-12-03")
            )
            .is_ok()
        );
    }

    #[test]
    fn allocated_units_are_not_available() {
        let lots = [lot("b", "BERAS", None, 10, 5, 1)];
        assert!(plan_allocation(&needs(&[("BERAS", 6)]), &lots, d("2026-12-03")).is_err());
        assert_eq!(
            plan_allocation(&needs(&[("BERAS", 5)]), &lots, d("2026-12-03")).unwrap()[0].quantity,
            5
        );
    }

    #[test]
    fn the_seed_package_is_the_2020_bekasi_package() {
        let p = seed_package(Utc::now());
        let n = p.needs(2).unwrap();
        assert_eq!(n[&Sku::parse("BERAS").unwrap()], 20);
        assert_eq!(n[&Sku::parse("MIE-INSTAN").unwrap()], 20);
        assert_eq!(p.lines.len(), 7);
        let skus: Vec<_> = seed_items().into_iter().map(|i| i.sku).collect();
        assert!(p.lines.iter().all(|l| skus.contains(&l.sku)));
    }

    #[test]
    fn movements_keep_the_ledger_arithmetic() {
        assert_eq!(Movement::Dispatch.deltas(3), (-3, -3));
        assert_eq!(Movement::Release.deltas(3), (0, -3));
        assert!(Sku::parse("beras").is_err());
    }

    #[test]
    fn a_quantity_is_a_positive_whole_number_of_at_most_a_million() {
        assert_eq!(
            Quantity::parse(0).unwrap_err().code,
            "QUANTITY_NOT_POSITIVE"
        );
        assert_eq!(
            Quantity::parse(-3).unwrap_err().code,
            "QUANTITY_NOT_POSITIVE"
        );
        assert_eq!(Quantity::parse(2).unwrap().get(), 2);
        assert_eq!(Quantity::parse(1_000_000).unwrap(), Quantity::MAX);
        for huge in [1_000_001, i128::from(i64::MAX), i128::from(u64::MAX)] {
            assert_eq!(
                Quantity::parse(huge).unwrap_err().code,
                "QUANTITY_TOO_LARGE",
                "{huge}"
            );
        }
        // Stored quantities are checked too, and written as plain numbers.
        assert!(serde_json::from_str::<Quantity>("9223372036854775807").is_err());
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert_eq!(serde_json::to_string(&Quantity::MAX).unwrap(), "1000000");
        let q = Quantity::parse(600_000).unwrap();
        assert_eq!(
            q.checked_add(q),
            None,
            "two lines of one item may not add up past the bound"
        );
        assert_eq!(
            q.checked_add(Quantity::parse(400_000).unwrap()),
            Some(Quantity::MAX)
        );
    }

    #[test]
    fn an_adjustment_is_never_zero_nor_beyond_a_million_either_way() {
        assert_eq!(Delta::parse(0).unwrap_err().code, "DELTA_ZERO");
        assert_eq!(Delta::parse(-5).unwrap().amount(), -5);
        assert_eq!(Delta::parse(1_000_000).unwrap().amount(), 1_000_000);
        for huge in [
            1_000_001,
            -1_000_001,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
        ] {
            assert_eq!(
                Delta::parse(huge).unwrap_err().code,
                "QUANTITY_TOO_LARGE",
                "{huge}"
            );
        }
    }

    #[test]
    fn sums_and_products_of_quantities_never_wrap() {
        assert_eq!(sum([u64::MAX, 1]), Err(OutOfRange));
        assert_eq!(sum([2, 3]), Ok(5));
        assert_eq!(signed(u64::MAX), Err(OutOfRange));
        let mut p = seed_package(Utc::now());
        assert_eq!(p.needs(20).unwrap()[&Sku::parse("BERAS").unwrap()], 200);
        // A package of the largest lines, for the largest decision, is far from the limit.
        for l in &mut p.lines {
            l.quantity = Quantity::MAX;
        }
        p.lines.push(PackageLine {
            sku: Sku::parse("BERAS").unwrap(),
            quantity: Quantity::MAX,
        });
        assert_eq!(
            p.needs(20).unwrap()[&Sku::parse("BERAS").unwrap()],
            40_000_000
        );
        assert!(p.needs(u32::MAX).is_ok());
        // The planner compares totals that would overflow without wrapping them.
        let lots = [
            lot("a", "BERAS", None, u64::MAX, 0, 1),
            lot("b", "BERAS", None, u64::MAX, 0, 2),
        ];
        let takes = plan_allocation(&needs(&[("BERAS", 10)]), &lots, d("2026-12-03")).unwrap();
        assert_eq!(takes.len(), 1);
    }
}
