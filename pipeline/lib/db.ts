import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { type DuckDBConnection, DuckDBInstance, type DuckDBValue } from "@duckdb/node-api";

/**
 * Opens the pipeline database. Extensions are never downloaded at run time: what DuckDB needs (JSON,
 * Parquet) is built into the packaged library. The connection must be closed before dbt runs, because
 * DuckDB allows one writing process per database file.
 */
export async function openDatabase(path: string, options: { memoryLimit?: string } = {}): Promise<Database> {
  await mkdir(dirname(path), { recursive: true });
  const instance = await DuckDBInstance.create(path, {
    autoinstall_known_extensions: "false",
    threads: "2",
    // jemalloc then hands freed memory back to the system as it goes, not at its own pace: in the ×25
    // benchmark the load stage's peak RSS fell from 3,077 MB to 2,774 MB with it.
    allocator_background_threads: "true",
    // Beyond it DuckDB spills to <database>.tmp; without it, its own default is 80% of the machine's memory.
    ...(options.memoryLimit ? { memory_limit: options.memoryLimit } : {}),
  });
  const connection = await instance.connect();
  return new Database(instance, connection);
}

export class Database {
  private readonly instance: DuckDBInstance;
  readonly connection: DuckDBConnection;

  constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.instance = instance;
    this.connection = connection;
  }

  async run(sql: string, values?: DuckDBValue[]): Promise<void> {
    await this.connection.run(sql, values);
  }

  /** Rows as plain objects with JSON-friendly values (bigint → number, timestamps → ISO strings). */
  async all<Row = Record<string, unknown>>(sql: string, values?: DuckDBValue[]): Promise<Row[]> {
    const reader = await this.connection.runAndReadAll(sql, values);
    return reader.getRowObjectsJson() as Row[];
  }

  /**
   * Rows as all() gives them, a chunk (DuckDB's vector, up to 2048 rows) at a time: for results too large to
   * hold in memory at once.
   */
  async *stream<Row = Record<string, unknown>>(sql: string, values?: DuckDBValue[]): AsyncGenerator<Row[]> {
    const result = await this.connection.stream(sql, values);
    for await (const rows of result.yieldRowObjectJson()) {
      if (rows.length > 0) yield rows as Row[];
    }
  }

  async one<Row = Record<string, unknown>>(sql: string, values?: DuckDBValue[]): Promise<Row | undefined> {
    return (await this.all<Row>(sql, values))[0];
  }

  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.run("begin transaction");
    try {
      const result = await work();
      await this.run("commit");
      return result;
    } catch (error) {
      await this.run("rollback");
      throw error;
    }
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

export async function withDatabase<T>(
  path: string,
  work: (db: Database) => Promise<T>,
  options: { memoryLimit?: string } = {},
): Promise<T> {
  const db = await openDatabase(path, options);
  try {
    return await work(db);
  } finally {
    db.close();
  }
}

/** The DuckDB library version linked into this Node process, e.g. "v1.5.6". */
export async function duckdbVersion(): Promise<string> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll("select version() as version");
    return String(reader.getRowObjectsJson()[0]?.version);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * Runs work on an open database and closes it when the work fails, so that whoever handles the failure can
 * open the same file (the run records its failure there).
 */
export async function closedOnFailure<T>(db: Database, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    db.close();
    throw error;
  }
}
