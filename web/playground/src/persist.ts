// The tab's store survives a reload: its snapshot (MetaStore's snapshot format, the same
// bytes Export downloads) is kept in IndexedDB, rewritten shortly after every change.

const DB = "metastore-playground";
const STORE = "state";
const KEY = "snapshot";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = f(t.objectStore(STORE));
      t.oncomplete = () => resolve(req.result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

export const load = (): Promise<Uint8Array | undefined> => tx("readonly", (s) => s.get(KEY) as IDBRequest<Uint8Array | undefined>);
export const save = (snapshot: Uint8Array): Promise<IDBValidKey> => tx("readwrite", (s) => s.put(snapshot, KEY));

/** Where a saved state that could not be restored is kept (one, the latest). */
export const STASH = "snapshot-unreadable";
export const stash = (snapshot: Uint8Array): Promise<IDBValidKey> => tx("readwrite", (s) => s.put(snapshot, STASH));
