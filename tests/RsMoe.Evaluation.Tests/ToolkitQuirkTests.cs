using RsMoe.Evaluation.Captions;
using RsMoe.Evaluation.Tokenization;

namespace RsMoe.Evaluation.Tests;

/// <summary>Hand-worked cases for each toolkit behaviour METRICS.md lists.</summary>
public sealed class ToolkitQuirkTests
{
    [Theory]
    [InlineData("A plane is parked.", "a plane is parked")]
    [InlineData("\"Quoted\" words (and brackets) [here] {too}", "quoted words -lrb- and brackets -rrb- -lsb- here -rsb- -lcb- too -rcb-")]
    [InlineData("It costs €5 or £3", "it costs $ 5 or # 3")]
    [InlineData("½ of the field", "1/2 of the field")]
    [InlineData("We cannot go, we're gonna stay", "we can not go we 're gon na stay")]
    [InlineData("it's there, don't go", "it 's there do n't go")]
    [InlineData("it\u2019s green", "it 's green")]
    [InlineData("roads \u2014 and rivers\u2026", "roads and rivers")]
    [InlineData("Near the U.S. border, e.g. here", "near the u.s. border e.g. here")]
    [InlineData("1,000 cars, 10.5 m at 3:45 over 1/2 of a tree-lined road", "1,000 cars 10.5 m at 3:45 over 1/2 of a tree-lined road")]
    [InlineData("80% of the area", "80 % of the area")]
    [InlineData("Many colourful buildings", "many colourful buildings")]
    [InlineData("Boats 🚤 on the river", "boats on the river")]
    [InlineData("...!?", "!?")]                                   // "..." then the [?!]+ token "!?", which the filter keeps
    [InlineData("A & B / C # 1", "a & b / c # 1")]
    public void PtbTokenisationAndFilterBehaveAsTheToolkit(string raw, string expected)
    {
        Assert.Equal(expected, PtbTokenizer.Tokenize(raw));
    }

    static Dictionary<string, IReadOnlyList<string>> Refs(params string[] references) => new() { ["0"] = references };

    [Fact]
    public void BleuUsesTheClosestReferenceLengthWithTiesToTheShorter()
    {
        // Candidate of 4 words; references of 3 and 5 words are equally close, so 3 is used: no brevity penalty.
        var (bleu, _) = Bleu.Compute(new Dictionary<string, string> { ["0"] = "a b c d" }, Refs("a b c", "a b c d e"));
        Assert.Equal(1.0, bleu[0], 1e-9);
        // Against a single 5-word reference the brevity penalty exp(1 - 5/4) applies.
        var (penalised, _) = Bleu.Compute(new Dictionary<string, string> { ["0"] = "a b c d" }, Refs("a b c d e"));
        Assert.Equal(Math.Exp(1 - 5.0 / 4), penalised[0], 1e-9);
    }

    [Fact]
    public void BleuOrdersWithoutMatchesAreTinyNotZero()
    {
        var (bleu, _) = Bleu.Compute(new Dictionary<string, string> { ["0"] = "x y" }, Refs("a b"));
        Assert.True(bleu[0] > 0 && bleu[0] < 1e-14);
    }

    [Fact]
    public void BleuPoolsCountsOverTheCorpusRatherThanAveraging()
    {
        var candidates = new Dictionary<string, string> { ["0"] = "a b", ["1"] = "c d e f" };
        var references = new Dictionary<string, IReadOnlyList<string>> { ["0"] = ["a b"], ["1"] = ["c x y z"] };
        var (bleu, perImage) = Bleu.Compute(candidates, references);
        Assert.Equal(3.0 / 6, bleu[0], 1e-9);                       // pooled: 3 of 6 unigrams match
        Assert.NotEqual((perImage["0"][0] + perImage["1"][0]) / 2, bleu[0], 6);
    }

    [Fact]
    public void RougeLMaximisesPrecisionAndRecallSeparately()
    {
        // Precision is best against the first reference, recall against the second.
        double score = RougeL.Score("a b c".Split(' '), ["a b c x x x x x x x".Split(' '), "a b".Split(' ')]);
        double p = 1.0, r = 1.0, beta2 = 1.2 * 1.2;
        Assert.Equal((1 + beta2) * p * r / (r + beta2 * p), score, 12);
    }

    [Fact]
    public void CiderDOfASingleImageIsZeroAndIdfComesFromReferencesOnly()
    {
        var (single, _) = CiderD.Compute(new Dictionary<string, string> { ["0"] = "a plane on the runway" }, Refs("a plane on the runway"));
        Assert.Equal(0, single);
        var candidates = new Dictionary<string, string> { ["0"] = "a plane on the runway", ["1"] = "a ship in the harbour" };
        var references = new Dictionary<string, IReadOnlyList<string>> { ["0"] = ["a plane on the runway"], ["1"] = ["a ship in the harbour"] };
        var (two, perImage) = CiderD.Compute(candidates, references);
        Assert.True(perImage["0"] > 0 && two > 0);
    }

    [Fact]
    public void CiderDPenalisesLengthDifferencesInBigrams()
    {
        var references = new Dictionary<string, IReadOnlyList<string>> { ["0"] = ["a plane on the runway"], ["1"] = ["a ship in the harbour"] };
        var (exact, _) = CiderD.Compute(new Dictionary<string, string> { ["0"] = "a plane on the runway", ["1"] = "a ship in the harbour" }, references);
        var (longer, _) = CiderD.Compute(new Dictionary<string, string> { ["0"] = "a plane on the runway plane plane plane", ["1"] = "a ship in the harbour" }, references);
        Assert.True(longer < exact);
    }

    [Fact]
    public void MeteorPicksTheFirstStrictlyBestReferenceAndUsesStems()
    {
        var meteor = new Meteor();
        var exact = meteor.Best("planes parked", ["planes parked"]).Score();
        var stem = meteor.Best("planes parked", ["plane parking"]).Score();
        Assert.True(stem > 0 && stem < exact);
        Assert.Equal("park", SnowballEnglishStemmer.Stem("parking"));
        Assert.Equal("plane", SnowballEnglishStemmer.Stem("planes"));
        Assert.Equal("generous", SnowballEnglishStemmer.Stem("generously"));
        Assert.Equal("consist", SnowballEnglishStemmer.Stem("consistency"));
        Assert.Equal("happi", SnowballEnglishStemmer.Stem("happiness"));
        Assert.Equal("residenti", SnowballEnglishStemmer.Stem("residential"));
    }

    [Fact]
    public void TheEvaluatorTokenisesBothSidesAndReportsMeteorModules()
    {
        var scores = new CaptionEvaluator().Score(
            new Dictionary<string, string> { ["1"] = "Many buildings, and a road.", ["2"] = "A river (wide)." },
            new Dictionary<string, IReadOnlyList<string>> { ["1"] = ["many buildings and a road"], ["2"] = ["a river -lrb- wide -rrb-"] });
        Assert.Equal(1.0, scores.Bleu1, 9);
        Assert.Contains("exact+stem", scores.MeteorModules);
        Assert.Throws<ArgumentException>(() => new CaptionEvaluator().Score(
            new Dictionary<string, string> { ["9"] = "x" }, new Dictionary<string, IReadOnlyList<string>>()));
    }
}
