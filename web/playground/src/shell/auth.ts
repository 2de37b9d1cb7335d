// etcdctl's auth, user and role commands (auth_command.go, user_command.go, role_command.go):
// the same arguments, checks, calls and output.
//
// etcdctl asks for a password it was not given (on the terminal, or from stdin with
// --interactive=false); this console cannot ask: it takes passwords from the command line
// only (user add NAME:PASSWORD or --new-user-password, user passwd NAME PASSWORD, --user
// NAME:PASSWORD), and says so when one is missing.
import {
  AuthRoleAddResponseSchema, AuthRoleDeleteResponseSchema, AuthRoleGrantPermissionResponseSchema,
  AuthRoleRevokePermissionResponseSchema, AuthUserAddResponseSchema, AuthUserChangePasswordResponseSchema,
  AuthUserDeleteResponseSchema, AuthUserGrantRoleResponseSchema, AuthUserRevokeRoleResponseSchema,
} from "../../../client/src/gen/etcd/api/etcdserverpb/rpc_pb.js";
import type { FlagSpec } from "./args.js";
import type { Command } from "./commands.js";
import { GoError, errorMessage, utf8 } from "./gofmt.js";
import { prefixEnd } from "./kv.js";
import { Printer } from "./print.js";

const bool = (name: string, usage: string, def = false): FlagSpec => ({ name, type: "bool", def, usage });

/** The note on passwords in the help of the commands that take one. */
const PASSWORDS = `This console cannot ask for a password: give it on the command line. In this tab
passwords are hashed with bcrypt's cost 4 (a server's is 10 unless --bcrypt-cost says
otherwise), which only makes hashing and logging in quicker: the store behaves the same.`;

// ---- auth ----

const noArgs = (args: string[], what: string) => {
  if (args.length !== 0) throw new GoError(`${what} command does not accept any arguments`);
};

export const auth: Command = {
  name: "auth", use: "auth <enable or disable>", short: "Enable or disable authentication",
  sub: [
    {
      name: "disable", use: "disable", short: "Disables authentication",
      async run(c) {
        noArgs(c.args, "auth disable");
        await (await c.client()).authDisable();
        c.env.out.line("Authentication Disabled");
      },
    },
    {
      name: "enable", use: "enable", short: "Enables authentication",
      async run(c) {
        noArgs(c.args, "auth enable");
        const api = await c.client();
        // etcdctl's loop: a root user without the root role gets it (the role made first), then
        // enabling is tried again; a role root that exists but is not granted stops it there.
        for (;;) {
          try {
            await api.authEnable();
            break;
          } catch (e) {
            if (errorMessage(e) !== "etcdserver: root user does not have root role") throw e;
          }
          await api.roleAdd("root");
          await api.userGrantRole("root", "root");
        }
        c.env.out.line("Authentication Enabled");
      },
    },
    {
      name: "status", use: "status", short: "Returns authentication status",
      async run(c) {
        noArgs(c.args, "auth status");
        const resp = await (await c.client()).authStatus();
        c.printer().authStatus(resp);
      },
    },
  ],
};

// ---- user ----

const interactive = (usage: string): FlagSpec => bool("interactive", usage, true);

const cannotAsk = (how: string) => new GoError(`this console cannot ask for a password: ${how}`);

export const user: Command = {
  name: "user", use: "user <subcommand>", short: "User related commands",
  sub: [
    {
      name: "add", use: "add <user name or user:password> [options]", short: "Adds a new user",
      flags: [
        interactive("Read password from stdin instead of interactive terminal"),
        { name: "new-user-password", type: "string", def: "", usage: "Supply password from the command line flag" },
        bool("no-password", "Create a user without password (CN based auth only)"),
      ],
      long: `Adds a new user: add NAME:PASSWORD, add NAME --new-user-password=PASSWORD (NAME taken
whole), or add NAME --no-password (a user nobody can log in as with a password).

${PASSWORDS}`,
      async run(c) {
        if (c.args.length !== 1) throw new GoError("user add command requires user name as its argument");
        const noPassword = c.flags["no-password"] as boolean;
        const fromFlag = c.flags["new-user-password"] as string;
        let name = c.args[0];
        let password = "";
        if (!noPassword) {
          if (fromFlag !== "") {
            password = fromFlag;
          } else {
            const i = name.indexOf(":");
            if (i < 0) throw cannotAsk(`give it as ${name}:PASSWORD or with --new-user-password`);
            [name, password] = [name.slice(0, i), name.slice(i + 1)];
            if (name === "") throw new GoError("empty user name is not allowed");
          }
        }
        const resp = await (await c.client()).userAdd({ name, password, options: { noPassword } });
        c.printer().authChanged(AuthUserAddResponseSchema, resp, `User ${name} created`);
      },
    },
    {
      name: "delete", use: "delete <user name>", short: "Deletes a user",
      async run(c) {
        if (c.args.length !== 1) throw new GoError("user delete command requires user name as its argument");
        const resp = await (await c.client()).userDelete(c.args[0]);
        c.printer().authChanged(AuthUserDeleteResponseSchema, resp, `User ${c.args[0]} deleted`);
      },
    },
    {
      name: "get", use: "get <user name> [options]", short: "Gets detailed information of a user",
      flags: [bool("detail", "Show permissions of roles granted to the user")],
      async run(c) {
        if (c.args.length !== 1) throw new GoError("user get command requires user name as its argument");
        const name = c.args[0];
        const api = await c.client();
        const resp = await api.userGet(name);
        const p = c.printer();
        if (!c.flags.detail) return p.userGet(name, resp);
        c.env.out.line(`User: ${name}`);
        for (const role of resp.roles) {
          c.env.out.line("");
          p.roleGet(role, await api.roleGet(role));
        }
      },
    },
    {
      name: "grant-role", use: "grant-role <user name> <role name>", short: "Grants a role to a user",
      async run(c) {
        if (c.args.length !== 2) throw new GoError("user grant command requires user name and role name as its argument");
        const [name, role] = c.args;
        const resp = await (await c.client()).userGrantRole(name, role);
        c.printer().authChanged(AuthUserGrantRoleResponseSchema, resp, `Role ${role} is granted to user ${name}`);
      },
    },
    {
      name: "list", use: "list", short: "Lists all users",
      async run(c) {
        if (c.args.length !== 0) throw new GoError("user list command requires no arguments");
        const resp = await (await c.client()).userList();
        c.printer().userList(resp);
      },
    },
    {
      name: "passwd", use: "passwd <user name> <password> [options]", short: "Changes password of user",
      flags: [interactive("If true, read password from stdin instead of interactive terminal")],
      long: `Changes the password of a user: passwd NAME PASSWORD (etcdctl asks for PASSWORD instead).

${PASSWORDS}`,
      async run(c) {
        if (c.args.length < 1 || c.args.length > 2) throw new GoError("user passwd command requires user name as its argument");
        if (c.args.length === 1) throw cannotAsk(`give it after the user name (user passwd ${c.args[0]} PASSWORD)`);
        const resp = await (await c.client()).userChangePassword(c.args[0], c.args[1]);
        c.printer().authChanged(AuthUserChangePasswordResponseSchema, resp, "Password updated");
      },
    },
    {
      name: "revoke-role", use: "revoke-role <user name> <role name>", short: "Revokes a role from a user",
      async run(c) {
        if (c.args.length !== 2) throw new GoError("user revoke-role requires user name and role name as its argument");
        const [name, role] = c.args;
        const resp = await (await c.client()).userRevokeRole(name, role);
        c.printer().authChanged(AuthUserRevokeRoleResponseSchema, resp, `Role ${role} is revoked from user ${name}`);
      },
    },
  ],
};

// ---- role ----

/** clientv3.StrToPermissionType: authpb.Permission_Type_value by the upper-cased name. */
const PERM_TYPES: Record<string, number> = { READ: 0, WRITE: 1, READWRITE: 2 };

/**
 * etcdctl's permRange: the key and range end a permission covers. An empty key is "\x00"
 * (the empty key is no key), and with --prefix or --from-key every key; --prefix K is
 * [K, prefixEnd(K)), --from-key K is [K, "\x00") (open ended).
 */
function permRange(args: string[], prefix: boolean, fromKey: boolean): [Uint8Array, Uint8Array] {
  const exclusive = () => new GoError("--from-key and --prefix flags are mutually exclusive");
  if (args[0] === "") {
    if (prefix && fromKey) throw exclusive();
    return [new Uint8Array([0]), prefix || fromKey ? new Uint8Array([0]) : new Uint8Array()];
  }
  const key = utf8(args[0]);
  if (args.length === 1) {
    if (prefix) {
      if (fromKey) throw exclusive();
      return [key, prefixEnd(key)];
    }
    return [key, fromKey ? new Uint8Array([0]) : new Uint8Array()];
  }
  if (prefix) throw new GoError("unexpected endkey argument with --prefix flag");
  if (fromKey) throw new GoError("unexpected endkey argument with --from-key flag");
  return [key, utf8(args[1])];
}

const rangeFlags = (verb: string): FlagSpec[] => [
  bool("from-key", `${verb} a permission of keys that are greater than or equal to the given key using byte compare`),
  bool("prefix", `${verb} a prefix permission`),
];

export const role: Command = {
  name: "role", use: "role <subcommand>", short: "Role related commands",
  sub: [
    {
      name: "add", use: "add <role name>", short: "Adds a new role",
      async run(c) {
        if (c.args.length !== 1) throw new GoError("role add command requires role name as its argument");
        const resp = await (await c.client()).roleAdd(c.args[0]);
        c.printer().authChanged(AuthRoleAddResponseSchema, resp, `Role ${c.args[0]} created`);
      },
    },
    {
      name: "delete", use: "delete <role name>", short: "Deletes a role",
      async run(c) {
        if (c.args.length !== 1) throw new GoError("role delete command requires role name as its argument");
        const resp = await (await c.client()).roleDelete(c.args[0]);
        c.printer().authChanged(AuthRoleDeleteResponseSchema, resp, `Role ${c.args[0]} deleted`);
      },
    },
    {
      name: "get", use: "get <role name>", short: "Gets detailed information of a role",
      async run(c) {
        if (c.args.length !== 1) throw new GoError("role get command requires role name as its argument");
        const resp = await (await c.client()).roleGet(c.args[0]);
        c.printer().roleGet(c.args[0], resp);
      },
    },
    {
      name: "grant-permission", use: "grant-permission [options] <role name> <permission type> <key> [endkey]",
      short: "Grants a key to a role", flags: rangeFlags("grant"),
      async run(c) {
        if (c.args.length < 3) {
          throw new GoError("role grant command requires role name, permission type, and key [endkey] as its argument");
        }
        const permType = PERM_TYPES[c.args[1].toUpperCase()];
        if (permType === undefined) throw new GoError(`invalid permission type: ${c.args[1]}`);
        const [key, rangeEnd] = permRange(c.args.slice(2), c.flags.prefix as boolean, c.flags["from-key"] as boolean);
        const resp = await (await c.client()).roleGrantPermission(c.args[0], { permType, key, rangeEnd });
        c.printer().authChanged(AuthRoleGrantPermissionResponseSchema, resp, `Role ${c.args[0]} updated`);
      },
    },
    {
      name: "list", use: "list", short: "Lists all roles",
      async run(c) {
        if (c.args.length !== 0) throw new GoError("role list command requires no arguments");
        const resp = await (await c.client()).roleList();
        c.printer().roleList(resp);
      },
    },
    {
      name: "revoke-permission", use: "revoke-permission <role name> <key> [endkey]", short: "Revokes a key from a role",
      flags: rangeFlags("revoke"),
      async run(c) {
        if (c.args.length < 2) {
          throw new GoError("role revoke-permission command requires role name and key [endkey] as its argument");
        }
        const [key, rangeEnd] = permRange(c.args.slice(1), c.flags.prefix as boolean, c.flags["from-key"] as boolean);
        const resp = await (await c.client()).roleRevokePermission(c.args[0], key, rangeEnd);
        c.printer().authChanged(AuthRoleRevokePermissionResponseSchema, resp, Printer.revokedText(c.args[0], c.args[1], rangeEnd));
      },
    },
  ],
};
