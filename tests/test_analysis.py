from indexer.analysis import gram_tokens, word_tokens
from indexer.normalize import normalize


def test_normalize_is_one_to_one_and_converts_scripts():
    text = "孫耀燦 整改落實 臺南 ＡＢＣ１２３ COVID-19「一把手」"
    norm = normalize(text)
    assert len(norm) == len(text)
    assert norm == "孙耀灿 整改落实 台南 abc123 covid-19「一把手」"
    assert normalize("孙耀灿整改落实") == "孙耀灿整改落实"


def test_grams_cover_every_character_position():
    toks = list(gram_tokens(normalize("息（新聞聯播）38個")))
    assert [t for t, *_ in toks] == ["息", "(", "新闻", "闻联", "联播", "播", ")", "38", "个"]
    assert [p for _, p, _, _ in toks] == list(range(len(toks)))
    assert toks[7][2:] == (7, 9)  # "38" keeps its offsets


def test_search_mode_subwords_share_the_parent_position():
    toks = word_tokens(normalize("中華人民共和國教育實踐活動"))
    by_word = {w: p for w, p, _, _ in toks}
    assert by_word["中华"] == by_word["中华人民共和国"] == by_word["共和国"]
    assert by_word["教育"] == by_word["中华人民共和国"] + 1
    query = word_tokens(normalize("中華人民共和國教育"), search=False)
    assert [w for w, *_ in query] == ["中华人民共和国", "教育"]


def test_mixed_tokens_split_into_letters_and_digits():
    words = [w for w, *_ in word_tokens("covid-19疫情")]
    assert "covid" in words and "19" in words and "-" not in words
    assert words.count("covid") == 1
