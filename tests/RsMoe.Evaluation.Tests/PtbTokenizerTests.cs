using RsMoe.Evaluation.Captions;
using RsMoe.Evaluation.Tokenization;

namespace RsMoe.Evaluation.Tests;

/// <summary>
/// Punctuation runs and symbols attached to words, with the PTBLexer.flex rule that gives each expected sequence
/// (see the remarks on <see cref="PtbTokenizer"/> for which copies of the lexer were read).
/// </summary>
public sealed class PtbTokenizerTests
{
    [Theory]
    [InlineData("wow!!", "wow !!", "wow !!")]                 // [?!]+ : one token, not in the filter list
    [InlineData("what?!", "what ?!", "what ?!")]
    [InlineData("really!?", "really !?", "really !?")]
    [InlineData("why??", "why ??", "why ??")]
    [InlineData("yes!!!", "yes !!!", "yes !!!")]
    [InlineData("!! wow", "!! wow", "!! wow")]
    [InlineData("a!!b", "a !! b", "a !! b")]
    [InlineData("\"why?!\"", "`` why ?! ''", "why ?!")]
    [InlineData("ok!?!", "ok !?!", "ok !?!")]
    [InlineData("wait...!", "wait ... !", "wait")]            // LDOTS "..." then [?!]+ "!": both filtered
    [InlineData("what?..", "what ? . .", "what")]             // "?" then two single "." (LDOTS needs three)
    [InlineData("so..", "so . .", "so")]
    [InlineData("hmm....", "hmm ...", "hmm")]                 // LDOTS takes any run of three or more as "..."
    [InlineData("wait...what", "wait ... what", "wait what")]
    [InlineData("...and", "... and", "and")]
    [InlineData("etc.... done", "etc. ... done", "etc. done")] // longest match: ABBREV1 "etc." keeps its dot
    [InlineData("U.S... road", "U.S. . . road", "u.s. road")]  // ACRONYM "U.S." then two single "."
    [InlineData("..5", ". .5", ".5")]                         // NUM may start with a dot
    public void PunctuationRunsAreLexedAsThePtbLexerDoes(string raw, string lexed, string filtered)
    {
        Assert.Equal(lexed, string.Join(' ', PtbTokenizer.Lex(raw)));
        Assert.Equal(filtered, PtbTokenizer.Tokenize(raw));
    }

    [Theory]
    [InlineData("m²", "m ²")]                                 // WORD stops at ² (not a letter), SUBSUPNUM takes it
    [InlineData("100m²", "100m ²")]                           // THING "100m", then SUBSUPNUM
    [InlineData("5km²", "5km ²")]
    [InlineData("x⁻²", "x ⁻²")]                               // SUBSUPNUM: optional sign, then the digits
    [InlineData("30°", "30 °")]                               // NUMBER, then MISCSYMBOL °
    [InlineData("45°C", "45 ° c")]                            // no DEGREES rule in 3.x: ° and C are separate
    [InlineData("°", "°")]
    [InlineData("±5", "± 5")]                                 // ± is MISCSYMBOL; NUMBER's sign is only + or -
    [InlineData("2×3 m", "2 × 3 m")]
    [InlineData("µm", "µm")]                                  // µ is a letter, so WORD takes it with m
    [InlineData("§3", "§ 3")]
    [InlineData("©2020", "© 2020")]
    [InlineData("#1", "# 1")]                                 // DOLSIGN "#"; a hashtag needs a letter after #
    [InlineData("#tag", "#tag")]                              // TWITTER hashtag
    [InlineData("&", "&")]
    [InlineData("a&b", "a & b")]                              // MISCSYMBOL &
    [InlineData("AT&T", "at&t")]                              // THINGA: upper-case letters joined by & or +
    [InlineData("@home", "@home")]                            // TWITTER name
    [InlineData("a/b", "a/b")]                                // THING3
    [InlineData("+3", "+3")]                                  // NUMBER with its sign
    [InlineData("5+3", "5 +3")]
    [InlineData("a+b", "a + b")]
    [InlineData("=", "=")]
    [InlineData("a=b", "a = b")]
    [InlineData("<", "<")]                                    // LESSTHAN and GREATERTHAN keep the characters
    [InlineData(">", ">")]
    [InlineData("<<a>>", "<< a >>")]                          // FAKEDUCKFEET
    [InlineData("^", "^")]
    [InlineData("|", "|")]
    [InlineData("~", "~")]
    [InlineData("x^2|y~z", "x ^ 2 | y ~ z")]
    [InlineData("5½ m", "5 1/2 m")]                           // FRAC2 is a token of its own
    public void SymbolsAttachedToWordsAreLexedAsThePtbLexerDoes(string raw, string expected)
    {
        Assert.Equal(expected, PtbTokenizer.Tokenize(raw));
    }

    [Fact]
    public void ScoresOnRawTextEqualScoresOnTheEquivalentPreTokenisedText()
    {
        var rawCandidates = new Dictionary<string, string>
        {
            ["1"] = "A 100m² field at 30°C!!",
            ["2"] = "Boats?! Near the dock... #1",
            ["3"] = "A road, 5km², and a/b signs.",
        };
        var rawReferences = new Dictionary<string, IReadOnlyList<string>>
        {
            ["1"] = ["A green 100m² field!", "A field at 30°C..."],
            ["2"] = ["Boats near the dock?!", "Many boats near the dock #1."],
            ["3"] = ["A road of 5km² with signs", "A long road and a/b signs!!"],
        };
        var tokenisedCandidates = new Dictionary<string, string>
        {
            ["1"] = "a 100m ² field at 30 ° c !!",
            ["2"] = "boats ?! near the dock # 1",
            ["3"] = "a road 5km ² and a/b signs",
        };
        var tokenisedReferences = new Dictionary<string, IReadOnlyList<string>>
        {
            ["1"] = ["a green 100m ² field", "a field at 30 ° c"],
            ["2"] = ["boats near the dock ?!", "many boats near the dock # 1"],
            ["3"] = ["a road of 5km ² with signs", "a long road and a/b signs !!"],
        };
        foreach (var (id, text) in rawCandidates) Assert.Equal(tokenisedCandidates[id], PtbTokenizer.Tokenize(text));

        var evaluator = new CaptionEvaluator();
        var fromRaw = evaluator.Score(rawCandidates, rawReferences);
        var fromTokens = evaluator.Score(tokenisedCandidates, tokenisedReferences, tokenize: false);
        foreach (var metric in new[] { "Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr" })
            Assert.Equal(fromTokens.Corpus[metric], fromRaw.Corpus[metric], 1e-9);
        Assert.True(fromRaw.Cider > 0);

        // The same direct computations, so the check does not rest on the evaluator's plumbing alone.
        var rawBleu = Bleu.Compute(rawCandidates.ToDictionary(c => c.Key, c => PtbTokenizer.Tokenize(c.Value)),
            rawReferences.ToDictionary(r => r.Key, r => (IReadOnlyList<string>)r.Value.Select(PtbTokenizer.Tokenize).ToList()));
        var tokenBleu = Bleu.Compute(tokenisedCandidates, tokenisedReferences);
        for (int n = 0; n < 4; n++) Assert.Equal(tokenBleu.Corpus[n], rawBleu.Corpus[n], 1e-9);
    }
}
