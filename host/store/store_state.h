// SPDX-License-Identifier: Apache-2.0
// The embedded store's state and the machinery every write goes through, internal to
// host/store/ (EmbeddedStore is the store's interface). Code outside the store reaches it only
// through EmbeddedStore::state(), to extend the store without being part of kbinder (the test
// API server's raw access).
//
// Objects are kept in two forms (Entry): raw JSON, as read, and for modeled kinds the subset
// message (Typed). Every change is stamped with the next resourceVersion and logged in the
// history (Logged), which the watches read from their ReadPosition; the history is trimmed
// as Options say. Members named ...Locked require `mutex_`; those that write require it held
// through a WriteLock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "host/base/adaptive_mutex.h"
#include "host/cluster/field_index.h"
#include "host/store/embedded_store.h"

namespace kbinder::host::store_internal {

// The resource (plural, lower case) of a kind, modeled or not.
std::string resourceOf(const std::string& kind);
// The API server's answers: "<resource> \"<name>\" not found"; ABORTED "Operation cannot be
// fulfilled on ...".
Status notFoundError(const std::string& kind, const std::string& name);
Status conflict(const std::string& resource, const std::string& name, const std::string& why);
// The API server's resourceVersion precondition: ABORTED unless `raw` is at `expected` (empty:
// any version).
Status checkVersion(const Json& raw, const std::string& expected, const std::string& resource,
                    const std::string& name);
// The raw object's metadata, made an object if it is not one.
Json& metadata(Json& raw);
// Five characters as the API server appends to a generateName.
std::string randomSuffix();

class StoreState {
 public:
  using Options = EmbeddedStore::Options;
  explicit StoreState(Options options) : options_(options) {}

  // An open watch's place in the history, kept in watch_positions_ while the watch lives so
  // that what it has still to read is not trimmed. Made under the store's lock; read and
  // advanced under it.
  class ReadPosition {
   public:
    ReadPosition(StoreState& store, uint64_t after)
        : store_(store), it_(store.watch_positions_.insert(store.watch_positions_.end(), after)) {}
    ~ReadPosition() {
      std::lock_guard lock(store_.mutex_);
      store_.watch_positions_.erase(it_);
    }
    ReadPosition(const ReadPosition&) = delete;
    ReadPosition& operator=(const ReadPosition&) = delete;
    uint64_t& after() { return *it_; }
    uint64_t after() const { return *it_; }

   private:
    StoreState& store_;
    std::list<uint64_t>::iterator it_;
  };
  using Key = std::tuple<std::string, std::string, std::string>;  // kind, namespace, name

  // A modeled object's subset message as the store keeps it: encoded (the wire form the ABI
  // carries, a fraction of the message's size in memory) and decoded for each read, which
  // trades a little time for much memory (measured: bench/HISTORY.md). The kinds with indexed
  // fields (volumes and claims: few, and listed by field every cycle) keep the message itself,
  // so that a list decodes none of the objects it passes over.
  class Typed {
   public:
    Typed() = default;
    Typed(Kind kind, const kbinder::v1::Object& object);
    // The kinds kept encoded.
    static bool encoded(Kind kind);
    // `encoded` (of `kind`, encoded ahead without a resourceVersion; see encodeAhead()) with
    // `resource_version` stamped on: appended as a message holding only it, which decoding
    // merges into the one before (as for any concatenated encodings). `whole`: the size of
    // the last whole encoding within `encoded` (all of it, unless merges appended to it).
    static Typed stamped(Kind kind, std::string encoded, const std::string& resource_version,
                         size_t whole = std::string::npos);
    // This version with another resourceVersion (a deletion's).
    Typed restamped(Kind kind, const std::string& resource_version) const;
    explicit operator bool() const { return message_ != nullptr || encoded_ != nullptr; }
    // The message, copied or decoded. INTERNAL when the encoded form does not decode (the
    // store wrote it: not expected).
    StatusOr<kbinder::v1::Object> get() const;
    // The message's wire form: the one kept, or the message encoded.
    std::string encode() const;
    // The kept encoding with `fragment` (of the same kind) merged in, to be stamped; nullopt
    // when the kind is not kept encoded, or merges have made the encoding twice as long as its
    // last whole one (it is encoded whole again then, by a write through editTyped).
    std::optional<std::string> merged(const kbinder::v1::Object& fragment) const;
    size_t whole() const { return whole_; }
    // The message, for the kinds that keep it; else nullptr.
    const kbinder::v1::Object* message() const { return message_.get(); }
    // The wire form, for the kinds kept encoded; else nullptr.
    const std::shared_ptr<const std::string>& encoding() const { return encoded_; }

   private:
    std::shared_ptr<const kbinder::v1::Object> message_;
    std::shared_ptr<const std::string> encoded_;
    size_t whole_ = 0;  // see stamped()
  };

  // An object's versions are shared between the current state and the watch history, so
  // logging a change copies nothing, and immutable while shared: a version only its entry
  // holds may be edited in place, under the lock (editTyped).
  //
  // An object created in the schema's form, of a kind kept encoded, while no raw watch can be
  // opened (an Event recorded per bind, mostly: nobody reads it raw until the snapshot is
  // written) is kept without its raw form: `raw` stays null until rawLocked() first needs it.
  struct Entry {
    uint64_t sequence = 0;  // load/creation order, for snapshots
    std::optional<Kind> kind;
    mutable std::shared_ptr<const Json> raw;  // null: not made yet (see above)
    Typed typed;                              // modeled kinds only (else empty)
  };
  struct Logged {
    uint64_t resource_version;
    std::string kind_name;
    std::optional<Kind> kind;
    WatchEvent::Type type;
    Typed typed;  // modeled kinds only
    std::shared_ptr<const Json> raw;
  };

  // The lock a write holds. Events trimmed from the history while it is held often hold the
  // last reference to a superseded version, whose destruction (both forms) is the costliest
  // part of a write after the conversion: they are destroyed after the lock is let go, not
  // while every reader and writer waits. The watches a write wakes are woken then too: waking
  // a waiting thread is a system call, a quarter of a write's time under the lock when made
  // there, and the thread woken would only wait for the lock again. A watch that saw the store
  // before the write is waiting by then (condition_variable_any lets the lock go only once its
  // waiter is in place), so no wake-up is lost.
  class WriteLock {
   public:
    explicit WriteLock(StoreState& store) : store_(store), lock_(store.mutex_) {}
    ~WriteLock() {
      std::vector<Logged> retired;  // constructing an empty vector allocates nothing
      std::vector<std::shared_ptr<const Json>> retired_raw;
      if (!store_.retired_.empty()) retired.swap(store_.retired_);
      if (!store_.retired_raw_.empty()) retired_raw.swap(store_.retired_raw_);
      std::vector<std::condition_variable_any*> to_wake;
      if (!store_.to_wake_.empty()) to_wake.swap(store_.to_wake_);
      lock_.unlock();
      for (auto* waiting : to_wake) waiting->notify_all();
    }
    WriteLock(const WriteLock&) = delete;
    WriteLock& operator=(const WriteLock&) = delete;

   private:
    StoreState& store_;
    std::unique_lock<AdaptiveMutex> lock_;
  };

  // A new version of an object, converted outside the lock; committed with its resourceVersion.
  struct Version {
    Json raw;
    std::optional<kbinder::v1::Object> typed;  // modeled kinds only
    // For kinds kept encoded, `typed` may be encoded ahead, outside the lock, with an empty
    // resourceVersion: the commit then appends only the stamp (see encodeAhead()). A merge
    // (mergeTyped) sets only this, and `whole`, with no `typed`.
    std::string encoded;
    size_t whole = std::string::npos;
  };
  static void encodeAhead(Kind kind, Version& version);
  // The raw version an entry holds, to edit in place: only under the lock, and only when the
  // entry's reference is the only one (every reference is taken under the lock, so none can be
  // gained meanwhile). Entries are made with a non-const Json, so the edit is well-defined.
  static Json& editableRawLocked(Entry& entry) { return const_cast<Json&>(*entry.raw); }
  // The entry's raw version, made from its schema form the first time it is needed and kept
  // (see Entry). Requires mutex_.
  StatusOr<std::shared_ptr<const Json>> rawLocked(const Entry& entry) const;
  // The raw version of a stored schema form, as create() would have made it.
  static StatusOr<std::shared_ptr<const Json>> rawFromTyped(const Typed& typed);
  // Every entry (of `kind`, when not empty) in load/creation order, by its raw version or, when
  // none is kept, its schema form: taken under the lock (it takes it), converted by the caller
  // after.
  std::vector<std::pair<std::shared_ptr<const Json>, Typed>> inOrder(const std::string& kind) const;
  static StatusOr<Version> convert(std::optional<Kind> kind, Json raw);
  // Stamps the next resourceVersion on both forms of `version` and stores them (the raw form
  // moved from `version`; the typed one kept as Typed does, the caller may still use it); the
  // entry written. `raw_in_place`: the entry's raw version was edited in place (see editTyped)
  // and is stamped there; `version.raw` is not used. `no_raw`: the entry keeps no raw version
  // until one is read (see Entry; a kind kept encoded only). Requires mutex_, held through a
  // WriteLock.
  Entry* commitLocked(const Key& key, std::optional<Kind> kind, Version& version,
                      bool raw_in_place = false, bool no_raw = false);
  // Converts `raw` and commits it. Requires mutex_.
  StatusOr<Entry*> storeLocked(const Key& key, Json raw);
  // Optimistic write of an existing object: `edit` is given the current version (raw, and its
  // typed form as its own copy), changes the typed form and returns the edit that makes the
  // same change on the raw one, or nullopt for "no change" (nothing written). Outside the lock
  // (converting is the costly part of a write); if another write came in meanwhile, `edit`
  // runs again on the newer version. The raw edit, applied once, is made in place when the
  // store holds the raw version alone (see Options::raw_watches), else on a copy made outside
  // the lock. The typed form written, or the current one when nothing was.
  using RawEdit = std::function<void(Json& raw)>;
  using Edit =
      std::function<StatusOr<std::optional<RawEdit>>(const Json& raw, kbinder::v1::Object& typed)>;
  StatusOr<kbinder::v1::Object> editTyped(const Key& key, const Edit& edit);
  // A write whose change to the typed form only sets fields (it clears none and changes no
  // element of a repeated field): `merge` is given the current raw version and returns a
  // message of the kind holding what to set, with the raw edit that makes the same change, or
  // nullopt to write nothing. Protobuf merges concatenated encodings (a field set later wins,
  // repeated fields gain the later elements), so the fragment's encoding is appended to the
  // kept one: the object is neither decoded nor encoded whole. kNotMergeable when `merge`
  // returns no fragment (the change is not one of setting fields) or the store cannot merge
  // (see Typed::merged): the caller writes through editTyped then. Retries as editTyped does.
  struct Merge {
    std::optional<kbinder::v1::Object> fragment;
    RawEdit raw;
  };
  using MergeEdit = std::function<StatusOr<std::optional<Merge>>(const Json& raw)>;
  struct Merged {
    enum class Outcome { kWritten, kUnchanged, kNotMergeable } outcome;
    std::string resource_version;  // the object's: stamped (kWritten) or read (kUnchanged)
  };
  StatusOr<Merged> mergeTyped(const Key& key, const MergeEdit& merge);
  // An object's current version, both forms, taken under the lock (what editTyped and
  // mergeTyped start from); INTERNAL for an object of a kind not modeled.
  StatusOr<std::pair<std::shared_ptr<const Json>, Typed>> currentVersion(const Key& key) const;
  // The commit both take: `apply` made on the raw version, read as `raw`, in place when the
  // entry's reference is the only one, else on a copy made outside the lock; `version` holds
  // the typed form. False when the object was written since `raw` was read (start over).
  // `written`, when given, receives the resourceVersion stamped.
  StatusOr<bool> commitEdit(const Key& key, std::optional<Kind> kind,
                            std::shared_ptr<const Json> raw, const RawEdit& apply, Version& version,
                            std::string* written = nullptr);
  // The typed form of the object `request` names, taken under the lock (the form is immutable:
  // decoded or copied after it is let go).
  StatusOr<Typed> typedFor(const kbinder::v1::GetRequest& request) const;
  // storeLocked, then logs the event.
  StatusOr<Entry*> writeLocked(const Key& key, Json raw, bool created);
  // A new object's defaults: the namespace "default" for a namespaced kind, and a uid made
  // from its kind, namespace, name and `sequence` (its place in creation order) where it has
  // none. prepareNewLocked() gives it the next sequence.
  static void prepareNew(Json& raw, std::optional<Kind> kind, uint64_t sequence);
  Status prepareNewLocked(Json& raw, std::optional<Kind> kind);
  // The first logged change after `after` that `wanted` accepts (changes of `kind_name` only),
  // advancing `after` past what it skipped; waits until `deadline` (nullptr then;
  // time_point::min() only looks, and never lets go of the lock) for a change of that kind.
  // ABORTED when the history was trimmed.
  StatusOr<const Logged*> nextLoggedLocked(std::unique_lock<AdaptiveMutex>& lock, uint64_t& after,
                                           std::chrono::steady_clock::time_point deadline,
                                           const std::string& kind_name,
                                           const std::function<bool(const Logged&)>& wanted);
  // Logs a change and trims the history. Requires mutex_, held through a WriteLock: what it
  // trims goes to retired_, the watches it wakes to to_wake_.
  void logLocked(WatchEvent::Type type, const std::string& kind_name, std::optional<Kind> kind,
                 Typed typed, std::shared_ptr<const Json> raw);
  // Logs the deletion of `it` (its last state, with the deletion's resourceVersion) and erases it.
  void eraseLocked(std::map<Key, Entry>::iterator it, Json last);
  using ObjectIt = std::map<Key, Entry>::const_iterator;
  // The map's order within one kind (an index holds one kind): namespace, then name.
  struct ByKey {
    bool operator()(const ObjectIt& a, const ObjectIt& b) const {
      const int ns = std::get<1>(a->first).compare(std::get<1>(b->first));
      return ns != 0 ? ns < 0 : std::get<2>(a->first) < std::get<2>(b->first);
    }
  };
  using Indexes = KindIndexes<ObjectIt, ByKey>;
  static std::vector<Indexes> makeIndexes();
  // The indexes of `kind`'s objects. Requires mutex_.
  Indexes& indexesLocked(Kind kind) { return indexes_[static_cast<size_t>(kind)]; }

  uint64_t resourceVersion() const;
  // A watch of `kind`'s typed forms from `after`. Requires mutex_.
  std::unique_ptr<Watch> watchLocked(Kind kind, uint64_t after);

  Options options_;
  mutable AdaptiveMutex mutex_;
  // Per kind: a write wakes only the watches of its kind (woken by every write, each watch
  // took the lock again for nothing, against the writers).
  std::map<std::string, std::condition_variable_any> changed_;
  // The kinds' conditions that writes under the current WriteLock have changed, each once: it
  // wakes them after letting the lock go. (A map's elements stay put as it grows.)
  std::vector<std::condition_variable_any*> to_wake_;
  uint64_t resource_version_ = 0;
  uint64_t next_sequence_ = 0;
  std::map<Key, Entry> objects_;
  std::vector<Indexes> indexes_ = makeIndexes();  // one per Kind, by its value; see field_index.h
  std::deque<Logged> history_;
  uint64_t history_floor_ = 0;   // watches from below this resourceVersion are Gone
  std::vector<Logged> retired_;  // trimmed from the history, for WriteLock to destroy unlocked
  std::vector<std::shared_ptr<const Json>> retired_raw_;  // superseded raw versions, the same
  // How far each open watch has read (the resourceVersion of its last event); see ReadPosition.
  std::list<uint64_t> watch_positions_;
  Manifest form_;  // the loaded manifest's shape, without its objects
};

}  // namespace kbinder::host::store_internal
