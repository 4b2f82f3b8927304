from edgecloud.runtimes.textstream import ByteDetokenizer, StopMatcher


def test_stop_sequence_split_across_tokens_is_found_and_not_emitted() -> None:
    matcher = StopMatcher(("\nUser:",))
    emitted = []
    for piece in ["Hello", " there\n", "Us", "er:", " more"]:
        text, stopped = matcher.feed(piece)
        emitted.append(text)
        if stopped:
            break
    assert "".join(emitted) == "Hello there"
    assert stopped


def test_text_that_only_looks_like_a_stop_prefix_is_released_later() -> None:
    matcher = StopMatcher(("STOP",))
    assert matcher.feed("abc ST") == ("abc ", False)
    assert matcher.feed("ART") == ("START", False)
    assert matcher.flush() == ""


def test_earliest_of_several_stop_sequences_wins() -> None:
    matcher = StopMatcher(("b", "a"))
    assert matcher.feed("xxab") == ("xx", True)


def test_no_stops_passes_text_through() -> None:
    assert StopMatcher(()).feed("anything") == ("anything", False)


def test_byte_detokenizer_holds_back_half_utf8_characters() -> None:
    pieces = {1: "é".encode()[:1], 2: "é".encode()[1:], 3: b"!"}
    detok = ByteDetokenizer(pieces.__getitem__)
    assert detok.feed(1) == ""
    assert detok.feed(2) == "é"
    assert detok.feed(3) == "!"
    assert detok.flush() == ""


def test_byte_detokenizer_flush_replaces_a_dangling_partial_character() -> None:
    detok = ByteDetokenizer({1: b"\xe2\x82"}.__getitem__)
    assert detok.feed(1) == ""
    assert detok.flush() == "\ufffd"
