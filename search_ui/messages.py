"""What the web says when something goes wrong: one table from error codes to Chinese messages.

The engine's errors carry a `code` and the figures a message needs (`params`,
see indexer/errors.py); their English text is the CLI's. Every web page and
JSON error takes its words from here, so no English sentence reaches a visitor.
"""

from __future__ import annotations

from indexer.errors import NewssearchError

# Names of request parameters as a visitor knows them.
PARAMS = {"page": "页码", "limit": "每页条数", "since": "开始日期", "until": "结束日期", "sort": "排序方式",
          "new": "“仅看新增”", "q": "检索词", "source": "发布单位"}

# code -> (message, hint); {placeholders} come from the error's params.
MESSAGES: dict[str, tuple[str, str]] = {
    "query.empty": ("请输入检索词。", "输入一个或几个词，例如：整改"),
    "query.too_long": ("检索词太长（{chars} 个字符，最多 {limit} 个）。", "只保留最要紧的几个词。"),
    "query.or_sides": ("OR 的两边都要有检索词。", "例如：整改 OR 落实"),
    "query.or_not": ("OR 不能和排除（- 或 NOT）连在一起用。", "把要排除的词单独写，例如：整改 OR 落实 -通报"),
    "query.nothing": ("检索词里没有可以搜索的文字。", "输入一个或几个词，例如：整改"),
    "query.only_excludes": ("检索词里只有要排除的词。", "加上要查找的词，例如：整改 -落实"),
    "query.too_many_words": ("检索词太多（{words} 个，最多 {limit} 个）。", "只保留最要紧的几个词。"),
    "param.int": ("{name}必须是整数，不能是“{value}”。", "请填写 {low} 到 {high} 之间的数。"),
    "param.range": ("{name}必须在 {low} 到 {high} 之间，不能是 {value}。", ""),
    "param.date": ("{name}不是有效的日期：“{value}”。",
                   "请填写“年”“年-月”或“年-月-日”，如 2021、2021-03、2021-03-08，或留空。"),
    "param.too_long": ("{name}太长（{chars} 个字符，最多 {limit} 个）。", ""),
    "param.flag": ("{name}只能是 1 或 0，不能是“{value}”。", ""),
    "param.sort": ("排序方式只能是按相关度（relevance）、最新在前（date）或最早在前（date-asc）。", ""),
    "param.scope": ("检索范围只能是全文（all）或标题（title）。", ""),
    "param.dates": ("日期范围为空：开始日期 {since} 晚于结束日期 {until}。", "把两个日期对调，或去掉其中一个。"),
    "param.paging": ("每页条数不能为负，页码须在 1 到 1000 之间。", ""),
    "advanced.no_words": ("请至少在前三栏中填写一个要查找的词（“不包含”只能排除）。", ""),
    "feed.no_query": ("订阅需要检索词。", "例如：/feed?q=整改"),
    "article.not_found": ("找不到这篇文章。", "它可能已从索引中删除；请重新搜索。"),
    "index.not_found": ("还没有建立索引，暂时无法搜索。", "请管理员先运行 newssearch index 建立索引。"),
    "index.corrupt": ("索引无法读取，暂时无法搜索。", "请管理员运行 newssearch index --rebuild 重建索引。"),
    "index.mass_removal": ("这次索引会删除太多文章，已停止。", "请管理员检查来源文件夹是否挂载。"),
    "index.busy": ("索引正在更新，请稍后再试。", ""),
    "index.unwritable": ("索引无法写入。", "请管理员检查磁盘空间和权限。"),
    "config": ("服务器的配置文件无法读取。", "请管理员检查 data/ 下的文件。"),
    "http.400": ("请求有误。", ""),
    "http.404": ("找不到这个页面。", "请检查网址，或回到首页重新搜索。"),
    "http.405": ("不支持这种请求方式。", ""),
    "http.413": ("请求太大。", ""),
    "http.500": ("服务器出错了。", "请稍后再试。"),
    "error": ("出错了。", "请稍后再试。"),
}


def _fill(template: str, params: dict[str, object]) -> str:
    values = {k: PARAMS.get(str(v), v) if k == "name" else v for k, v in params.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):  # a message whose figures are missing: say it without them
        return template.split("（")[0].split("{")[0].rstrip("，：") + "。"


def message(code: str, params: dict[str, object] | None = None) -> tuple[str, str]:
    """The Chinese message and hint for an error code ("query.or_sides", "http.404", …)."""
    fallback = "http.400" if code.startswith("http.4") else "error"
    msg, hint = MESSAGES.get(code) or MESSAGES[fallback]
    return _fill(msg, params or {}), _fill(hint, params or {}) if hint else ""


def for_error(exc: NewssearchError) -> tuple[str, str]:
    """The Chinese message and hint for an engine error."""
    return message(exc.code, exc.params)
