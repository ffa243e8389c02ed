"""What one scenario knows about its world: the sandbox, the stored credential, who
asks the keychain, and every prompt seen so far.  Step functions receive it as the
`world` fixture; its repr() is redacted (allure-pytest-bdd records step arguments)."""
from __future__ import annotations

from dataclasses import dataclass, field

from keychain_claims.backends import Backend, Session
from keychain_claims.harness import claude_code
from keychain_claims.security.callers import SECURITY_TOOL, CodeIdentity
from keychain_claims.harness.driver import Call, Shell, ShellRun
from keychain_claims.fakes import Credential
from keychain_claims.security.prompts import Prompt
from keychain_claims.harness.sandbox import Sandbox


@dataclass(eq=False)
class World:
    sandbox: Sandbox
    credential: Credential | None = None           # what Claude Code last stored
    previous: list[Credential] = field(default_factory=list)
    service: str = claude_code.SERVICE
    app: CodeIdentity | None = None                 # another program reading the item
    prompts: list[Prompt] = field(default_factory=list)
    last: Call | None = None
    reads: list[Call] = field(default_factory=list)
    runs: list[ShellRun] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)
    _shell: Shell | None = None

    @property
    def account(self) -> str:
        return self.sandbox.user

    @property
    def session(self) -> Session:
        """The backend's session of this scenario's sandbox: what every step asks of the backend."""
        return self.sandbox.session

    @property
    def backend(self) -> Backend:
        """What the backend is (its name, provenance and capabilities)."""
        return self.sandbox.session.backend

    @property
    def shell(self) -> Shell:
        if self._shell is None:
            self._shell = self.sandbox.shell()
        return self._shell

    @property
    def screen(self) -> str:
        """What the scenario's terminal has shown so far ("" when no shell was started)."""
        return "".join(self._shell.screen) if self._shell is not None else ""

    def security(self, *argv: str, choices: tuple[str, ...] = (), default: str = "Deny", unlock: str = "OK",
                 stdin: str | None = None, caller: CodeIdentity | None = None) -> Call:
        """Run one `security` command as `caller` (default: the security tool itself, as
        Claude Code does), answering dialogs with `choices` then `default`."""
        responder = self.sandbox.responder(choices=list(choices), default_choice=default, unlock_choice=unlock)
        call = self.session.run(list(argv), responder, stdin=stdin,
                                caller=caller if caller and caller != SECURITY_TOOL else None)
        self.prompts += responder.seen
        self.last = call
        return call

    # --- Claude Code, as releases talk to security ------------------------------------------
    def claude_write(self, credential: Credential, **kw) -> Call:
        line = claude_code.write_line(self.account, str(credential.payload), self.service)
        if len(line) <= claude_code.STDIN_LIMIT:
            call = self.security("-i", stdin=line, **kw)
        else:
            call = self.security(*claude_code.write_argv(self.account, str(credential.payload), self.service), **kw)
        if call.status == 0:
            if self.credential is not None:
                self.previous.append(self.credential)
            self.credential = credential
        return call

    def claude_read(self, caller: CodeIdentity | None = None, **kw) -> Call:
        call = self.security(*claude_code.read_argv(self.account, self.service), caller=caller, **kw)
        self.reads.append(call)
        return call

    def dialogs(self, kind: str = "item") -> list[Prompt]:
        return [p for p in self.prompts if p.kind == f"{kind}-dialog"]

    def type(self, command: str, choices: tuple[str, ...] = (), default: str = "Deny") -> ShellRun:
        responder = self.sandbox.responder(choices=list(choices), default_choice=default)
        run = self.shell.run(command, responder=responder, watch=self.session.dialog_watch(),
                             on_dialog=self.session.shell_dialog())
        self.prompts += responder.seen
        self.runs.append(run)
        return run

    def __repr__(self) -> str:
        """Said for a person: the report lists it as every step's `world` parameter."""
        return (f"sandbox {self.sandbox.root.name} on {self.backend.name}, item “{self.service}”, "
                f"{len(self.prompts)} prompt(s) so far")
