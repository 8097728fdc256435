"""The rds_metadata role's database set-up script against a real PostgreSQL server.

On a cluster the script runs inside a Kubernetes Job (the RDS instance is private); the local
control plane only pretends to run Job pods, so the script is proven here instead: the very
file the role ships (roles/rds_metadata/files/create_databases.sh) runs against Debian's
PostgreSQL server, started on 127.0.0.1 for this module with password (SCRAM) authentication
over TCP, and a master user that has CREATEDB and CREATEROLE but is not a superuser, the way
RDS sets up its master user.

What is proven: the databases and roles are created with the right owners and privileges, a
second run changes nothing (neither the catalog, including the stored password verifiers, nor
the script's own report), a changed password is applied (rotation) and only then, drift is
repaired, bad input is refused before anything is touched, and no password is ever printed.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO_ROOT, "roles", "rds_metadata", "files", "create_databases.sh")

MASTER_USER = "platform_admin"
MASTER_PASSWORD = "Master0Password0For0Tests0Only0x"
APPS = {
    "airflow": {"database": "airflow", "username": "airflow", "password": "AirflowPw0123456789abcdefABCDEF0"},
    "mlflow": {"database": "mlflow", "username": "mlflow", "password": "MlflowPw0123456789abcdefABCDEF01"},
}


def _server_bindir():
    """Directory holding initdb/pg_ctl: PATH first, then Debian's versioned location."""
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not candidates:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package "
                    "'postgresql' (`make setup` does, see tests/tools/debian-packages.txt)")
    return os.path.dirname(candidates[-1])


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Postgres:
    """A throw-away PostgreSQL cluster in a temporary directory, owned by a non-root user."""

    def __init__(self):
        self.bindir = _server_bindir()
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="mlops-rds-metadata-pg-")
        self.data = os.path.join(self.dir, "data")
        self.as_user = []
        if os.geteuid() == 0:
            # The server refuses to run as root: run it as Debian's postgres user.
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root needs the 'postgres' system user (Debian package postgresql)")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, argv):
        proc = subprocess.run(self.as_user + argv, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            raise AssertionError("%s failed:\n%s%s" % (" ".join(argv), proc.stdout, proc.stderr))

    def start(self):
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres", "-E", "UTF8",
                   "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256"])
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                   "-w", "-t", "60", "-o", "-p %d -k %s -c listen_addresses=127.0.0.1" % (self.port, self.dir),
                   "start"])
        # The RDS-like master user: CREATEDB and CREATEROLE, not a superuser.
        self.superuser_sql("CREATE ROLE %s LOGIN CREATEDB CREATEROLE PASSWORD '%s'" % (MASTER_USER, MASTER_PASSWORD))

    def stop(self):
        try:
            self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def superuser_sql(self, sql, database="postgres"):
        """Run SQL as the superuser over the local socket; rows as lists of strings."""
        proc = subprocess.run(
            [os.path.join(self.bindir, "psql"), "-X", "-q", "-t", "-A", "-F", "|", "-v", "ON_ERROR_STOP=1",
             "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            capture_output=True, text=True, check=False, timeout=60)
        if proc.returncode != 0:
            raise AssertionError("psql failed: %s\n%s" % (sql, proc.stderr))
        return [line.split("|") for line in proc.stdout.splitlines() if line]

    def can_login(self, user, password, database):
        env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER=user, PGPASSWORD=password,
                   PGDATABASE=database, PGSSLMODE="disable")
        proc = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-t", "-A", "-c", "SELECT current_user"],
                              env=env, capture_output=True, text=True, check=False, timeout=60)
        return proc.returncode == 0 and proc.stdout.strip() == user

    def env(self, apps=None):
        env = {
            "PATH": self.bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": MASTER_USER,
            "PGPASSWORD": MASTER_PASSWORD,
            "PGDATABASE": "postgres",
            "PGSSLMODE": "disable",
            "RDS_METADATA_CONNECT_ATTEMPTS": "3",
            "RDS_METADATA_CONNECT_DELAY": "1",
        }
        apps = APPS if apps is None else apps
        env["RDS_METADATA_APPS"] = " ".join(apps)
        for app, settings in apps.items():
            for field in ("database", "username", "password"):
                env["%s_%s" % (app.upper(), field.upper())] = settings[field]
        return env

    def catalog(self):
        """Everything the script may change, including the stored password verifiers."""
        return {
            "roles": self.superuser_sql(
                "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolpassword FROM pg_authid "
                "WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname"),
            "databases": self.superuser_sql(
                "SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datacl::text FROM pg_database "
                "ORDER BY datname"),
            "memberships": self.superuser_sql(
                "SELECT r.rolname, m.rolname, a.admin_option FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid "
                "JOIN pg_roles m ON m.oid = a.member WHERE r.rolname NOT LIKE 'pg\\_%' ORDER BY 1, 2, 3"),
        }


@pytest.fixture(scope="module")
def postgres():
    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def run_script(env, check=True):
    proc = subprocess.run(["sh", SCRIPT], env=env, capture_output=True, text=True, check=False, timeout=300)
    output = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError("create_databases.sh exited %d:\n%s" % (proc.returncode, output))
    return proc.returncode, output


def assert_no_password(output, *passwords):
    for password in (MASTER_PASSWORD,) + tuple(s["password"] for s in APPS.values()) + passwords:
        assert password not in output, "a password was printed"


def test_creates_then_changes_nothing(postgres):
    code, first = run_script(postgres.env())
    assert code == 0
    assert "rds_metadata: role airflow created" in first
    assert "rds_metadata: database airflow created (owner airflow)" in first
    assert "rds_metadata: role mlflow created" in first
    assert "rds_metadata: database mlflow created (owner mlflow)" in first
    assert first.rstrip().endswith("rds_metadata: changed=true")
    assert_no_password(first)

    after_first = postgres.catalog()
    roles = {row[0]: row for row in after_first["roles"]}
    for app in APPS.values():
        name = app["username"]
        # A plain login role: no superuser, no CREATEROLE, no CREATEDB, a SCRAM verifier.
        assert roles[name][1:5] == ["f", "f", "f", "t"], roles[name]
        assert roles[name][5].startswith("SCRAM-SHA-256$")
    databases = {row[0]: row for row in after_first["databases"]}
    for app in APPS.values():
        datname, owner, encoding, acl = databases[app["database"]]
        assert (owner, encoding) == (app["username"], "UTF8")
        # PUBLIC (the empty grantee) has neither CONNECT nor TEMPORARY.
        assert not [entry for entry in acl.strip("{}").split(",") if entry.startswith("=")], acl

    # Each application reaches its own database with its password, and nothing else.
    assert postgres.can_login("airflow", APPS["airflow"]["password"], "airflow")
    assert postgres.can_login("mlflow", APPS["mlflow"]["password"], "mlflow")
    assert not postgres.can_login("mlflow", APPS["mlflow"]["password"], "airflow")
    assert not postgres.can_login("airflow", APPS["airflow"]["password"], "mlflow")
    assert not postgres.can_login("airflow", "wrong-password", "airflow")

    # The second run: the same catalog (same password verifiers: no password was reset), and
    # the script says so itself.
    code, second = run_script(postgres.env())
    assert code == 0
    assert second.strip().splitlines() == [
        "rds_metadata: role airflow unchanged, database airflow unchanged",
        "rds_metadata: role mlflow unchanged, database mlflow unchanged",
        "rds_metadata: changed=false",
    ]
    assert postgres.catalog() == after_first


def test_rotation_changes_only_the_rotated_password(postgres):
    run_script(postgres.env())
    before = postgres.catalog()
    apps = {name: dict(settings) for name, settings in APPS.items()}
    apps["airflow"]["password"] = "Rotated0Airflow0Password0abcdefg"

    code, output = run_script(postgres.env(apps))
    assert code == 0
    assert "rds_metadata: role airflow updated (password)" in output
    assert "rds_metadata: role mlflow unchanged, database mlflow unchanged" in output
    assert output.rstrip().endswith("rds_metadata: changed=true")
    assert_no_password(output, apps["airflow"]["password"])
    assert postgres.can_login("airflow", apps["airflow"]["password"], "airflow")
    assert not postgres.can_login("airflow", APPS["airflow"]["password"], "airflow")

    after = postgres.catalog()
    changed_roles = [b[0] for b, a in zip(before["roles"], after["roles"]) if a != b]
    assert changed_roles == ["airflow"]
    assert after["databases"] == before["databases"]

    code, again = run_script(postgres.env(apps))
    assert code == 0
    assert again.rstrip().endswith("rds_metadata: changed=false")
    # Back to the original password for the other tests.
    run_script(postgres.env())


def test_repairs_drift(postgres):
    run_script(postgres.env())
    postgres.superuser_sql("GRANT CONNECT ON DATABASE mlflow TO PUBLIC")
    postgres.superuser_sql("ALTER ROLE mlflow NOLOGIN")
    code, output = run_script(postgres.env())
    assert code == 0
    assert "rds_metadata: role mlflow updated (LOGIN)" in output
    assert "rds_metadata: database mlflow updated (CONNECT, TEMPORARY revoked from PUBLIC)" in output
    assert "rds_metadata: role airflow unchanged, database airflow unchanged" in output
    # Logging in works again without touching the password (its verifier is kept).
    assert "updated (password)" not in output
    assert postgres.can_login("mlflow", APPS["mlflow"]["password"], "mlflow")
    code, again = run_script(postgres.env())
    assert code == 0
    assert again.rstrip().endswith("rds_metadata: changed=false")


@pytest.mark.parametrize("field, value, message", [
    ("AIRFLOW_USERNAME", 'air"flow', "AIRFLOW_USERNAME must be a lower-case identifier"),
    ("AIRFLOW_DATABASE", "Airflow", "AIRFLOW_DATABASE must be a lower-case identifier"),
    ("MLFLOW_DATABASE", "x" * 64, "MLFLOW_DATABASE must be a lower-case identifier"),
    ("MLFLOW_PASSWORD", "", "MLFLOW_PASSWORD is not set"),
])
def test_refuses_bad_input_before_touching_the_server(postgres, field, value, message):
    run_script(postgres.env())
    before = postgres.catalog()
    env = postgres.env()
    env["RDS_METADATA_APPS"] = "airflow mlflow newapp"
    env.update({"NEWAPP_DATABASE": "newapp", "NEWAPP_USERNAME": "newapp", "NEWAPP_PASSWORD": "NewAppPassword0123456789"})
    env[field] = value
    code, output = run_script(env, check=False)
    assert code != 0
    assert message in output
    assert postgres.catalog() == before


def test_fails_clearly_when_the_server_is_unreachable(postgres):
    env = postgres.env()
    env["PGPORT"] = str(_free_port())
    started = time.monotonic()
    code, output = run_script(env, check=False)
    assert code != 0
    assert "cannot connect to 127.0.0.1:%s/postgres as %s" % (env["PGPORT"], MASTER_USER) in output
    assert time.monotonic() - started < 60
    assert_no_password(output)
