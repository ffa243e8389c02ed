"""Every prompt a keychain operation can put on the terminal, and the Responder
that answers them.

Two sources of prompts:
* security(1) itself (getpass on /dev/tty) -- texts read from Apple's source [SRC];
* the SecurityAgent dialog.  On macOS it is a GUI window; the simulator draws it on
  the controlling terminal so pexpect can answer it, in the words of the dialog corpus
  (security/dialogs.json: the sentences public reports quote, per state and macOS version).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- security(1) getpass prompts [SRC: keychain_create.c, keychain_unlock.c, keychain_add.c]
NEW_KEYCHAIN_PASSWORD = "password for new keychain: "
RETYPE_NEW_KEYCHAIN_PASSWORD = "retype password for new keychain: "
KEYCHAIN_TO_CREATE = "keychain to create: "
UNLOCK_PASSWORD = "password to unlock {keychain}: "          # {keychain} = as typed, or "default"
NEW_ITEM_PASSWORD = "password data for new item: "
RETYPE_NEW_ITEM_PASSWORD = "retype password for new item: "
# set-keychain-password's getpass prompts [SRC keychain_set_settings.c]
OLD_KEYCHAIN_PASSWORD = "Old Password: "
NEW_KEYCHAIN_PASSWORD_CHANGE = "New Password: "
RETYPE_NEW_KEYCHAIN_PASSWORD_CHANGE = "Retype New Password: "

# --- SecurityAgent dialogs as the simulator draws them: the words are the dialog corpus's (security/dialogs.json,
# per state and macOS version, fitted on public reports; security/dialogs.py text()); the buttons and the
# terminal rendering of a choice are below.  SecurityAgent is not open source: which request securityd puts to it
# is [SRC] (agentquery.cpp AGENT_HINT_ACL_TAG; acls.cpp extendPartition), the sentence for each is the corpus's.
ITEM_CHOICES = ("Always Allow", "Deny", "Allow")
UNLOCK_CHOICES = ("Cancel", "OK")
CHOICE_PROMPT = "[{choices}] > "        # e.g. "[Always Allow] [Deny] [Allow] > "
DIALOG_PASSWORD = "Password: "
DIALOG_WRONG_PASSWORD = "The password you entered is not correct.\n"
DIALOG_TRIES = 3


def choice_prompt(choices: tuple[str, ...]) -> str:
    return CHOICE_PROMPT.format(choices="] [".join(choices))


ITEM_CHOICE_PROMPT = choice_prompt(ITEM_CHOICES)
UNLOCK_CHOICE_PROMPT = choice_prompt(UNLOCK_CHOICES)

# either wording, straight or typographic quotes (the article quotes the dialog with straight ones)
_OPEN, _CLOSE = '["\u201c]', '["\u201d]'
_ITEM_DIALOG_RE = re.compile(
    r'(?P<app>\S+) wants to (?P<verb>use your confidential information stored in|access key) '
    + _OPEN + r'(?P<item>[^"\u201d]*)' + _CLOSE + r' in your keychain\.\r?\n'
    r'To allow this, enter the ' + _OPEN + r'(?P<keychain>[^"\u201d]*)' + _CLOSE + r' keychain password\.')
_UNLOCK_DIALOG_RE = re.compile(r'(?P<app>\S+) wants to use the ' + _OPEN + r'(?P<keychain>[^"\u201d]*)' + _CLOSE
                               + r' keychain\.')


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last match of `pattern` in `text` (the dialog nearest the prompt), or None."""
    *_, last = (None, *pattern.finditer(text))
    return last


@dataclass
class Prompt:
    """One prompt seen on the terminal and how it was answered (never the secret)."""

    kind: str          # new-keychain-password | unlock-password | item-password | item-dialog | unlock-dialog
    text: str
    answer: str        # a choice, or "<password>"
    app: str = ""
    item: str = ""
    keychain: str = ""
    emulated: bool = False     # the dialog was dismissed and its answer applied by the harness

    def __str__(self) -> str:
        """For a person: 'item dialog “security wants to access key …”, answered Always Allow'."""
        text = " ".join(self.text.split())
        return (f"{self.kind.replace('-', ' ')} “{text}”, answered {self.answer}"
                + (" (answer applied by the harness)" if self.emulated else ""))


@dataclass
class Responder:
    """Answers prompts for one run.  `choices` is consumed one per item dialog;
    when it runs out `default_choice` is used."""

    keychain_password: str = ""
    item_password: str = ""
    choices: list[str] = field(default_factory=list)
    default_choice: str = "Deny"
    unlock_choice: str = "OK"
    dialog_password: str | None = None     # what to type in a dialog; default the keychain password
    seen: list[Prompt] = field(default_factory=list)

    # pattern order matters: the longer "retype ..." must win over its suffix
    def patterns(self) -> list[str]:
        return [
            re.escape(RETYPE_NEW_KEYCHAIN_PASSWORD),
            re.escape(NEW_KEYCHAIN_PASSWORD),
            r"password to unlock [^\r\n]*: ",
            re.escape(RETYPE_NEW_ITEM_PASSWORD),
            re.escape(NEW_ITEM_PASSWORD),
            re.escape(ITEM_CHOICE_PROMPT),
            re.escape(UNLOCK_CHOICE_PROMPT),
            re.escape(DIALOG_PASSWORD),
        ]

    def answer(self, index: int, before: str, matched: str) -> str:
        """Return the text to type for pattern `index`; `before` is the screen text before it."""
        if index in (0, 1):
            self.seen.append(Prompt("new-keychain-password", matched, "<password>"))
            return self.keychain_password
        if index == 2:
            self.seen.append(Prompt("unlock-password", matched.strip(), "<password>"))
            return self.keychain_password
        if index in (3, 4):
            self.seen.append(Prompt("item-password", matched, "<password>"))
            return self.item_password
        if index == 5:
            m = _last(_ITEM_DIALOG_RE, before)
            choice = self.choices.pop(0) if self.choices else self.default_choice
            app, item, keychain = m.group("app", "item", "keychain") if m else ("", "", "")
            self.seen.append(Prompt("item-dialog", (m.group(0) if m else before.strip()[-200:]), choice,
                                    app, item, keychain))
            return choice
        if index == 6:
            m = _last(_UNLOCK_DIALOG_RE, before)
            self.seen.append(Prompt("unlock-dialog", (m.group(0) if m else before.strip()[-200:]),
                                    self.unlock_choice, *((m.group("app"), "", m.group("keychain")) if m else ("", "", ""))))
            return self.unlock_choice
        if index == 7:
            self.seen.append(Prompt("dialog-password", matched, "<password>"))
            return self.keychain_password if self.dialog_password is None else self.dialog_password
        raise IndexError(index)

    def choose(self, kind: str) -> str:
        """The answer this run gives to the next dialog of `kind` ("item" or "unlock") when the
        dialog is not on the terminal: the same choice the terminal dialog would have been given."""
        if kind == "unlock":
            return self.unlock_choice
        return self.choices[0] if self.choices else self.default_choice

    def emulated(self, window: dict, answer: str) -> Prompt:
        """Record a dialog that appeared off the terminal, was dismissed, and whose `answer` the
        harness applies itself (consumes the choice, as answering it on the terminal would)."""
        kind = "unlock" if window.get("kind") == "unlock" else "item"
        if kind == "item" and self.choices:
            self.choices.pop(0)
        prompt = Prompt(f"{kind}-dialog", window.get("text", ""), answer, window.get("app", ""),
                        window.get("item", ""), window.get("keychain", ""), emulated=True)
        self.seen.append(prompt)
        return prompt

    def dialogs(self, kind: str = "item-dialog") -> list[Prompt]:
        return [p for p in self.seen if p.kind == kind]
