"""The Chinese catalogue covers every string the code shows, keeps its placeholders, and is what a
Chinese-speaking user sees: by Accept-Language, by the dockyard_lang cookie, and after POST /language.

When a test here fails after strings were added or changed: run `scripts/i18n.sh` (or
`make messages-update`), translate the new or fuzzy entries in app/locales/zh/LC_MESSAGES/messages.po,
then `make messages`.
"""

from __future__ import annotations

import io
import re
import string
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from app.db import upgrade
from app.domain import users as users_domain
from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "app" / "locales"
ZH_PO = LOCALES / "zh" / "LC_MESSAGES" / "messages.po"
ZH_MO = ZH_PO.with_suffix(".mo")
PASSWORD = "correct-horse-battery"


def _zh_catalog() -> Catalog:
    with ZH_PO.open("rb") as f:
        return read_po(f, locale="zh")


def _extracted_ids() -> set[str | tuple[str, ...]]:
    """What `pybabel extract -F babel.cfg -k _ -k lazy_ -k ngettext:1,2` finds in the code today."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, "lazy_": None, "ngettext": (1, 2)}
    ids: set[str | tuple[str, ...]] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        ids.add(message if isinstance(message, str) else tuple(message))
    return ids


def _placeholders(text: str) -> set[str]:
    """The `{name}` / `{name:spec}` fields of a new-style format string (`{{`/`}}` are literal braces)."""
    return {
        "{" + field + (("!" + conv) if conv else "") + ((":" + spec) if spec else "") + "}"
        for _literal, field, spec, conv in string.Formatter().parse(text)
        if field is not None
    }


def _strings(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def _ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


def test_every_extracted_string_is_translated_in_zh() -> None:
    catalog = _zh_catalog()
    extracted = _extracted_ids()
    assert len(extracted) > 500  # the extraction itself worked (templates and Python alike)
    untranslated = []
    for msgid in sorted(extracted, key=str):
        message = catalog.get(msgid)
        if message is None or not all(_strings(message)) or message.fuzzy:
            untranslated.append(msgid)
    assert not untranslated, (
        f"{len(untranslated)} strings lack a reviewed Chinese translation (missing, empty or fuzzy); "
        "run scripts/i18n.sh and translate them:\n" + "\n".join(map(repr, untranslated[:40]))
    )


def test_catalogue_has_no_empty_or_fuzzy_entries() -> None:
    bad = [m.id for m in _zh_catalog() if m.id and (m.fuzzy or not all(_strings(m)))]
    assert not bad, bad[:40]


def test_placeholders_are_kept_in_every_translation() -> None:
    wrong = []
    for message in _zh_catalog():
        if not message.id:
            continue
        expected = set().union(*(_placeholders(i) for i in _ids(message)))
        for translated in _strings(message):
            try:
                found = _placeholders(translated)
            except ValueError as e:  # an unbalanced brace would break .format() at render time
                wrong.append((message.id, translated, str(e)))
                continue
            if found != expected:
                wrong.append((message.id, translated, sorted(expected ^ found)))
    assert not wrong, "\n".join(map(repr, wrong))


def test_translations_add_no_markup() -> None:
    """Jinja's new-style gettext marks a translation as safe HTML, so a stray `<` or `&` in a msgstr would
    reach the page unescaped: a translation has exactly the markup characters of its msgid."""
    wrong = []
    for message in _zh_catalog():
        if not message.id:
            continue
        source = _ids(message)[0]
        for translated in _strings(message):
            if any(translated.count(ch) != source.count(ch) for ch in "<>&"):
                wrong.append((message.id, translated))
    assert not wrong, "\n".join(map(repr, wrong))


def test_technical_identifiers_stay_untranslated() -> None:
    """Kubernetes kinds, field paths and role values read the same in both languages."""
    catalog = _zh_catalog()
    for msgid, kept in [
        ("NodePort", "NodePort"), ("LoadBalancer", "LoadBalancer"), ("ExternalName", "ExternalName"),
        ("YAML", "YAML"), ("platform-admin", "platform-admin"),
        ("A stateful service uses a headless Service: keep spec.clusterIP: None.", "spec.clusterIP: None"),
        ("admin manages the project and its members; operator manages resources; viewer only looks.", "operator"),
    ]:
        assert kept in catalog[msgid].string, (msgid, catalog[msgid].string)
    # KubeSphere's own Chinese terms
    for msgid, term in [
        ("Services", "服务"), ("Stateless Service", "无状态服务"), ("Stateful Service", "有状态服务"),
        ("External Service", "外部服务"), ("Workloads", "工作负载"), ("Pods", "容器组"), ("Projects", "项目"),
        ("Workspaces", "企业空间"), ("Project Members", "项目成员"), ("Edit YAML", "编辑 YAML"),
        ("Basic Information", "基本信息"), ("Container Image", "容器镜像"), ("Mount Volume", "挂载存储卷"),
        ("Advanced Settings", "高级设置"), ("Sticky Session", "会话保持"), ("External Access", "外部访问"),
        ("Virtual IP", "虚拟 IP"),
    ]:
        assert catalog[msgid].string == term, (msgid, catalog[msgid].string)


def test_the_glossary_is_kept_by_every_translation() -> None:
    """One Chinese term per concept: the catalogue's header lists them, and no translation writes the
    English run-together forms instead (`VirtualIP`)."""
    header = ZH_PO.read_text().split('msgid ""', 1)[0]
    glossary = dict(re.findall(r"^#\s+([A-Za-z][A-Za-z ]*?) = (\S.*)$", header, re.M))
    assert glossary["Virtual IP"] == "虚拟 IP" and glossary["Deployment"] == "部署"
    for message in _zh_catalog():
        text = message.string if isinstance(message.string, str) else " ".join(message.string or ())
        assert "VirtualIP" not in text, (message.id, text)


def test_compiled_catalogue_is_up_to_date() -> None:
    """The app reads the .mo, a build output: `make messages` writes it from the .po."""
    assert ZH_MO.exists(), f"{ZH_MO.relative_to(ROOT)} is missing: run `make messages`"
    compiled = io.BytesIO()
    write_mo(compiled, _zh_catalog())
    assert ZH_MO.read_bytes() == compiled.getvalue(), "messages.mo is older than messages.po: run `make messages`"


# --- what a user sees --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def i18n_settings() -> Iterator[Settings]:
    """An app on its own migrated SQLite database; the pages here need no cluster."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'i18n.db'}"
        upgrade(url)
        yield Settings(database_url=url, kubeconfig=None, fast_password_hashing=True,
                       reconcile_interval_seconds=0)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def i18n_app(i18n_settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(i18n_settings, reconcile=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="session")
async def client(i18n_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=i18n_app), base_url="http://testserver") as c:
        yield c


def _login_button(html: str) -> str:
    m = re.search(r'<button class="primary wide" type="submit">([^<]*)</button>', html)
    assert m, html[:2000]
    return m.group(1).strip()


async def test_accept_language_zh_shows_chinese(client: httpx.AsyncClient) -> None:
    resp = await client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert resp.status_code == 200
    assert _login_button(resp.text) == "登录"
    assert '<html lang="zh-CN">' in resp.text
    assert "Kubernetes 服务控制台" in resp.text
    assert "Log In" not in resp.text


async def test_english_by_default_and_by_cookie(client: httpx.AsyncClient) -> None:
    assert _login_button((await client.get("/login")).text) == "Log In"
    client.cookies.set("dockyard_lang", "en")
    resp = await client.get("/login", headers={"Accept-Language": "zh-CN"})  # the cookie wins
    assert _login_button(resp.text) == "Log In"
    assert '<html lang="en">' in resp.text
    assert "登录" not in resp.text


async def test_post_language_switches_and_sticks(client: httpx.AsyncClient) -> None:
    page = await client.get("/login", headers={"Accept-Language": "en"})
    assert _login_button(page.text) == "Log In"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    refused = await client.post("/language", data={"lang": "zh", "back": "/login"})
    assert refused.status_code == 403 and "dockyard_lang" not in refused.cookies  # no CSRF token, no switch

    resp = await client.post("/language", data={"lang": "zh", "back": "/login", "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    assert resp.cookies.get("dockyard_lang") == "zh"
    assert _login_button((await client.get("/login", headers={"Accept-Language": "en"})).text) == "登录"

    resp = await client.post("/language", data={"lang": "en", "back": "/login", "csrf_token": token})
    assert resp.cookies.get("dockyard_lang") == "en"
    assert _login_button((await client.get("/login", headers={"Accept-Language": "zh-CN"})).text) == "Log In"


async def test_signed_in_console_and_form_errors_in_chinese(i18n_app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    async with i18n_app.state.sessionmaker() as session:
        user = await users_domain.create_user(session, username="zh-reader", email="zh-reader@test.local",
                                              password=PASSWORD, platform_role="platform-regular")
    client.cookies.set("dockyard_lang", "zh")
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    # A message made in Python with _() at request time, shown on a template.
    wrong = await client.post("/login", data={"username": user.username, "password": "not-it", "csrf_token": token})
    assert "用户名或密码错误。" in wrong.text

    signed_in = await client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert signed_in.status_code == 303
    resp = await client.get("/workspaces")
    assert resp.status_code == 200
    assert "企业空间" in resp.text and "登出" in resp.text
    assert ">English</button>" in resp.text  # the switch offers the other language
    assert "Log Out" not in resp.text


# -- templates compiled per locale (app/templating.py TranslatedLiterals) --------------------------


def test_template_literals_are_translated_when_compiled_and_render_as_at_run_time() -> None:
    from app.templating import new_environment

    source = ('<h2>{{ _("Containers") }}</h2><b title="{{ _("Delete") }}">{{ x._("Delete") }}</b>'
              '{{ _("%(n)s pods", n=2) }}|{{ _(word) }}')

    class Obj:
        def _(self, text: str) -> str:
            return "<" + text + ">"

    zh = new_environment(locale="zh").from_string(source).render(x=Obj(), word="Delete")
    assert zh.startswith("<h2>容器</h2><b title=\"删除\">&lt;Delete&gt;</b>")  # a method named _ is left alone
    assert zh.endswith("2 pods|Delete")  # calls with arguments or a variable stay calls (English: no locale set)
    # The catalogue's text is trusted as `_()` gives it at run time: entities in a message stay entities,
    # and what `.format()` puts in is escaped.
    source = ('<i title="{{ _("Kubernetes\' default") }}">{{ _("If your client machine is on the same network as '
              'the cluster, you can use &lt;Node IP address&gt;:&lt;Node port&gt; to access the service.") }}'
              '{{ _("Creates a {kind} and a Service for its pods in this project, together or not at all.")'
              '.format(kind="<b>") }}')
    compiled = new_environment(locale="en").from_string(source).render()
    assert compiled == new_environment().from_string(source).render()  # no locale: `_()` called at run time
    assert "use &lt;Node IP address&gt;:&lt;Node port&gt; to" in compiled and "&amp;" not in compiled
    assert "Creates a &lt;b&gt; and" in compiled


async def test_the_same_page_is_rendered_in_each_locale_with_its_own_compiled_templates(
        client: httpx.AsyncClient) -> None:
    zh = await client.get("/login", headers={"Accept-Language": "zh-CN"})
    en = await client.get("/login", headers={"Accept-Language": "en"})
    again = await client.get("/login", headers={"Accept-Language": "zh"})
    assert 'type="submit">登录</button>' in zh.text and 'type="submit">Log In</button>' in en.text
    assert 'type="submit">登录</button>' in again.text  # English in between did not change the Chinese templates


def test_templates_are_reread_after_an_edit_only_when_reload_is_on(tmp_path: Path) -> None:
    import os

    from app.templating import Renderer

    page = tmp_path / "page.html"
    page.write_text("one")
    kept, reloading = Renderer(tmp_path).env, Renderer(tmp_path, reload=True).env
    assert kept.get_template("page.html").render() == reloading.get_template("page.html").render() == "one"
    page.write_text("two")
    os.utime(page, (page.stat().st_atime, page.stat().st_mtime + 5))
    assert kept.get_template("page.html").render() == "one"  # no stat per render: a restart shows the edit
    assert reloading.get_template("page.html").render() == "two"
