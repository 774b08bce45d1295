//! Bulk import and export through the engine: a host imports a CSV file into its own
//! repository, or exports a journey's transitions, with one call.
//!
//! An import holds each membership the file touches in memory for the batch (its
//! history loaded once), decides every row with [`decide`](crate::decide) through
//! [`Batch`], and commits many rows per [`Commit`], each membership appended at the
//! version it was loaded at. Rows are read sixteen at a time, and the memory each
//! will read (its contact's slot, memberships and id) is read for the whole group
//! first, so that the waits of different rows overlap.

use std::io::{Read, Write};

use csv::ByteRecord;

use super::{JourneyEngine, contact_entry, contact_write};
use crate::clock::Clock;
use crate::error::{DomainError, Error, RepositoryError};
use crate::import::{
    Batch, CsvExport, Existence, Header, ImportError, ImportOptions, ImportReport, InstantReader, Lookup,
    Mode, Outcome, Row, UnknownContacts, is_blank,
};
use crate::model::contact::Contact;
use crate::model::ids::{ContactId, JourneyId};
use crate::model::transition::Transition;
use crate::repository::{Commit, LogPosition, Repository};
use crate::warm::{WARM_GROUP, each_warmed};

/// Transitions an export reads from the repository at once.
const EXPORT_PAGE: usize = 16_384;

impl<R: Repository, C: Clock> JourneyEngine<R, C> {
    /// Imports the CSV rows read from `input` as moves, as `options` say (see
    /// [`crate::import`] for the format and the modes). Every row is decided by
    /// sequencing against the state the rows before it leave; every transition
    /// carries the batch id and its line.
    ///
    /// The file is streamed; what the import holds is one entry per membership it
    /// touches and, until they are committed, the decided transitions (a chunk in
    /// best-effort mode, the whole batch in atomic mode).
    ///
    /// Running the same batch id again after a failure is safe: rows whose line
    /// the stored histories already hold for this batch count as applied and are not
    /// appended twice.
    ///
    /// # Errors
    /// - [`Error::Import`] for a header with an unknown, repeated or missing column,
    ///   or an input that cannot be read;
    /// - a repository error from loading or committing. Nothing of an atomic batch
    ///   is then written; a best-effort import keeps the chunks committed before it.
    pub async fn import_csv(&self, input: impl Read, options: &ImportOptions) -> Result<ImportReport, Error> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(input);
        let mut record = ByteRecord::new();
        let mut report = ImportReport::new(options);
        if !read(&mut reader, &mut record)? {
            return Ok(report);
        }
        let header = Header::parse(&record, options.ignore_unknown_columns).map_err(Error::Import)?;
        let mut batch = Batch::new(options.batch.clone(), self.clock.now(), options.chunk_rows);
        let mut instants = InstantReader::default();
        let mut group: Vec<ByteRecord> = (0..WARM_GROUP).map(|_| ByteRecord::new()).collect();
        loop {
            // The rows read before a failure to read are imported first, as they would
            // be one by one.
            let (filled, failure) = read_group(&mut reader, &mut group);
            let records = group.get(..filled).unwrap_or_default();
            for record in records {
                let (contact, journey) = header.membership_fields(record);
                batch.warm(contact, journey);
            }
            for record in records {
                let line = record.position().map_or(0, csv::Position::line);
                report.rows += 1;
                let outcome = match header.row(record, &mut instants) {
                    Ok(row) => self.import_row(&mut batch, row, line, options).await?,
                    Err(error) => Err(error),
                };
                if let Err(error) = outcome {
                    report.refuse(line, header.contact_text(record), error);
                }
                if options.mode == Mode::BestEffort && batch.pending_rows() >= options.chunk_rows {
                    self.commit_batch(&mut batch, options.dry_run).await?;
                }
            }
            if let Some(failure) = failure {
                return Err(failure);
            }
            if filled < WARM_GROUP {
                break;
            }
        }
        if options.mode == Mode::Atomic && report.refused > 0 {
            report.refused = report.rows;
        } else {
            self.commit_batch(&mut batch, options.dry_run).await?;
            report.applied = report.rows - report.refused;
        }
        Ok(report)
    }

    /// Decides one row: `Err` inside for a refused row, outside for a storage failure
    /// that stops the import.
    async fn import_row(
        &self,
        batch: &mut Batch,
        row: Row<'_>,
        line: u64,
        options: &ImportOptions,
    ) -> Result<Result<Outcome, ImportError>, Error> {
        let membership = loop {
            match batch.lookup(&row) {
                Lookup::Found(membership) => break membership,
                Lookup::UnknownJourney => {
                    return Ok(Err(DomainError::UnknownJourney { journey: row.journey.to_owned() }.into()));
                }
                Lookup::NewJourney => {
                    let journey = match JourneyId::new(row.journey) {
                        Ok(id) => match self.journey(&id).await {
                            Ok(journey) => Some(journey),
                            Err(Error::Repository(RepositoryError::NotFound { .. })) => None,
                            Err(e) => return Err(e),
                        },
                        Err(_) => None,
                    };
                    let known = journey.is_some();
                    batch.add_journey(row.journey, journey);
                    if !known {
                        return Ok(Err(
                            DomainError::UnknownJourney { journey: row.journey.to_owned() }.into()
                        ));
                    }
                }
                Lookup::NewMembership(journey, slot) => {
                    let slot = match slot {
                        Some(slot) => slot,
                        None => match ContactId::new(row.contact) {
                            Ok(id) => batch.add_contact(id),
                            Err(e) => return Ok(Err(e.into())),
                        },
                    };
                    let (contact, existence) = batch.contact(slot);
                    let contact = contact.clone();
                    let history = self.repository.load_history(&contact, batch.journey(journey).id()).await?;
                    if history.is_empty() && existence == Existence::Unknown {
                        let existence = if self.repository.contact_exists(&contact).await? {
                            Existence::Stored
                        } else {
                            match options.unknown_contacts {
                                UnknownContacts::Create => Existence::Absent,
                                UnknownContacts::Refuse => Existence::Missing,
                            }
                        };
                        batch.set_existence(slot, existence);
                    }
                    match batch.add_membership(slot, journey, &history) {
                        Ok(membership) => break membership,
                        Err(e) => return Ok(Err(e.into())),
                    }
                }
            }
        };
        Ok(batch.decide(membership, line, row))
    }

    /// Commits the batch's pending transitions, with the contacts it creates (each
    /// entered into the Advocate Enrollment journey as `add_contact` does), or for a
    /// dry run drops them.
    async fn commit_batch(&self, batch: &mut Batch, dry_run: bool) -> Result<(), Error> {
        if batch.pending_rows() == 0 {
            return Ok(());
        }
        let created = batch.created_contacts();
        let mut appends = batch.take_appends();
        if dry_run {
            return Ok(());
        }
        let mut contacts = Vec::with_capacity(created.len());
        if !created.is_empty() {
            let system = self.system_journey().await?;
            appends.reserve(created.len());
            // Each created contact enters the system journey as `add_contact` enters it.
            // The entry depends on the status (the same for every new contact) and the
            // time, not on who it is: it is decided for the first, and each other
            // contact takes a copy under its own id.
            let mut decided: Option<Transition> = None;
            each_warmed(
                created,
                |id| id,
                |id| {
                    let contact = Contact::new(id);
                    let (write, entry) = match &decided {
                        Some(entry) => {
                            let mut entry = entry.clone();
                            entry.contact = contact.id.clone();
                            contact_write(&system, contact, entry)
                        }
                        None => {
                            let (write, entry) = contact_entry(&system, contact, batch.now())?;
                            decided = entry.transitions.first().cloned();
                            (write, entry)
                        }
                    };
                    contacts.push(write);
                    appends.push(entry);
                    Ok::<_, Error>(())
                },
            )?;
        }
        self.repository.commit(Commit { appends, contacts, idempotency_key: None }).await?;
        Ok(())
    }

    /// Writes every transition of `journey` to `output` in the import format, in time
    /// order, and returns how many were written. Importing the result into an empty
    /// repository (creating contacts) reproduces the journey's memberships and
    /// histories.
    ///
    /// # Errors
    /// `NotFound` for an unknown journey; [`Error::Import`] if writing fails.
    pub async fn export_csv<W: Write>(&self, journey: &JourneyId, output: W) -> Result<W, Error> {
        let journey = self.journey(journey).await?;
        let mut export = CsvExport::new(output)?;
        let mut after: Option<LogPosition> = None;
        loop {
            let page = self.repository.journey_transitions(journey.id(), after.as_ref(), EXPORT_PAGE).await?;
            for transition in &page {
                export.write(transition)?;
            }
            match page.last() {
                Some(last) if page.len() == EXPORT_PAGE => after = Some(LogPosition::of(last)),
                _ => break,
            }
        }
        Ok(export.finish()?)
    }
}

/// Reads records into `group` until it is full or the input ends: how many it read,
/// and the error that stopped it, if one did.
fn read_group<R: Read>(reader: &mut csv::Reader<R>, group: &mut [ByteRecord]) -> (usize, Option<Error>) {
    let mut filled = 0;
    for record in group.iter_mut() {
        match read(reader, record) {
            Ok(true) => filled += 1,
            Ok(false) => break,
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

/// Reads the next record that is not a blank line; `false` at the end of the input.
fn read<R: Read>(reader: &mut csv::Reader<R>, record: &mut ByteRecord) -> Result<bool, Error> {
    loop {
        let more = reader
            .read_byte_record(record)
            .map_err(|e| Error::Import(ImportError::Io { message: e.to_string() }))?;
        if !more || !is_blank(record) {
            return Ok(more);
        }
    }
}
