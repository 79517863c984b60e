using RsMoe.Data.Aspects;
using RsMoe.Data.Datasets;
using RsMoe.Data.Images;

namespace RsMoe.Data.Tests;

/// <summary>The readers of UCM-captions' images, RSICD's available images, RSIVQA and the Stage 0 text, on the real files.</summary>
public sealed class RealImageryTests
{
    static readonly RealImagery Real = new(SharedData.Path());

    [Fact]
    public void UcmMapsKarpathyNamesToTheJpegsAndTheirClasses()
    {
        var ucm = Real.Ucm();
        Assert.Equal(2100, ucm.Images.Count);
        Assert.Equal([1680, 210, 210], new[] { "train", "val", "test" }.Select(s => ucm.Split(s).Count()));
        var byId = ucm.Images.ToDictionary(i => i.Id);
        // SOURCE.md's checks: 101 is the first airplane tile, 2001 the first tennis court.
        Assert.Equal("airplane", byId["101.tif"].Label);
        Assert.Contains("airplane", byId["101.tif"].Captions[0], StringComparison.OrdinalIgnoreCase);
        Assert.Equal("tenniscourt", byId["2001.tif"].Label);
        Assert.EndsWith(Path.Combine("images", "101.jpg"), byId["101.tif"].FileName);
        Assert.All(ucm.Images, i => Assert.True(File.Exists(i.FileName), i.FileName));
        var (_, width, height) = ImageDecoder.DecodeRgb(File.ReadAllBytes(byId["101.tif"].FileName));
        Assert.Equal((256, 256), (width, height));
        Assert.Equal("7.jpg", UcmCaptions.ImageFileName("7.tif"));
        Assert.Throws<InvalidDataException>(() => UcmCaptions.ImageFileName("airport_1.jpg"));
    }

    [Fact]
    public void RsicdKeepsTheAvailableImagesAndCountsTheMissing()
    {
        var rsicd = Real.Rsicd();
        Assert.Equal(10_000, rsicd.Dataset.Images.Count);
        // coverage.json: available train 7,946, val 1,027, test 1,027; missing 788, 67, 66.
        Assert.Equal([7946, 1027, 1027], new[] { "train", "val", "test" }.Select(s => rsicd.Dataset.Split(s).Count()));
        Assert.Equal(788, rsicd.Missing["train"]);
        Assert.Equal(66, rsicd.Missing["test"]);
        Assert.DoesNotContain(rsicd.Dataset.Images, i => char.IsDigit(Path.GetFileName(i.FileName)[0]));
        var airport = rsicd.Dataset.Images.Single(i => i.Id == "airport_1.jpg");
        Assert.Equal("dense residential", rsicd.Dataset.Images.First(i => i.Id.StartsWith("denseresidential_", StringComparison.Ordinal)).QaPairs.Single().Answer);
        Assert.Equal("airport", airport.QaPairs.Single(q => q.Type == "scene").Answer);
        Assert.All(rsicd.Dataset.Images.Take(20), i => Assert.True(File.Exists(i.FileName)));
    }

    [Fact]
    public void RsivqaLinesGetTypesAndFollowTheirImagesSplit()
    {
        var questions = Rsivqa.Read(SharedData.Path("rsivqa", "UCM", "ucm_res.txt"));
        Assert.Equal(2795, questions.Count);
        Assert.Equal(559, questions.Select(q => q.Image).Distinct().Count());
        var types = questions.GroupBy(q => q.Type).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["presence"] = 1118, ["scene"] = 559, ["ab_position"] = 559, ["quantity"] = 559 }, types);
        Assert.Equal(("1.tif", "Does this picture contain an airplane?", "no"), (questions[1].Image, questions[1].Text, questions[1].Answer));
        Assert.Equal("top left corner", questions[4].Answer);

        var ucm = Real.Ucm();
        foreach (var split in new[] { "train", "val", "test" })
        {
            var ids = ucm.Split(split).Select(i => i.Id).ToHashSet();
            Assert.All(ucm.Split(split).SelectMany(i => i.QaPairs), q => Assert.Contains(q.Id.Split('#')[0], ids));
        }
        // The theme question is in both files and is kept once per image.
        Assert.All(ucm.Images, i => Assert.Single(i.QaPairs, q => q.Type == "scene"));
        Assert.Equal(2795 - 559 + 2100, ucm.Images.Sum(i => i.QaPairs.Count));
        Assert.True(ucm.Split("test").Sum(i => i.QaPairs.Count(q => q.Type != "scene")) > 100);

        string bad = Path.Combine(Path.GetTempPath(), $"rsivqa-bad-{Guid.NewGuid():N}.txt");
        File.WriteAllText(bad, "1.tif:no question mark here\n");
        try { Assert.Contains(":1:", Assert.Throws<InvalidDataException>(() => Rsivqa.Read(bad)).Message); }
        finally { File.Delete(bad); }
    }

    [Theory]
    [InlineData("How many cars in the picture?", "quantity")]
    [InlineData("What is the location of the trees in this picture?", "ab_position")]
    [InlineData("Does this picture contain a river?", "presence")]
    [InlineData("what is the theme of this picture?", "scene")]
    public void QuestionTypesComeFromTheForm(string question, string type) => Assert.Equal(type, Rsivqa.TypeOf(question));

    [Fact]
    public void Stage0TextLeavesOutEveryTestReference()
    {
        var corpus = Real.Corpus();
        var heldOut = Real.TestReferences().Select(CaptionCorpus.Key).ToHashSet();
        Assert.True(corpus.Texts.Count > 20_000, $"{corpus.Texts.Count} texts");
        Assert.True(corpus.HeldOut > 0);
        Assert.Contains("captions.json", corpus.TextsPerFile.Keys);   // RSICap
        Assert.Contains("RSITMD_karpathy.json", corpus.TextsPerFile.Keys);
        Assert.All(corpus.Texts, t => Assert.All(AspectSplitter.Sentences(t), s => Assert.DoesNotContain(CaptionCorpus.Key(s), heldOut)));
        Assert.Equal(corpus.Texts.Count, corpus.Texts.Distinct().Count());
    }

    [Theory]
    [InlineData("It is a piece of farmland", AspectSplitter.Theme)]
    [InlineData("This is a chaparral", AspectSplitter.Theme)]
    [InlineData("Lots of plants scattered on the ground.", AspectSplitter.Objects)]
    [InlineData("Many planes are parked next to a long building in an airport", AspectSplitter.Relationships)]
    [InlineData("There are many buildings and some green trees", AspectSplitter.Objects)]
    public void ReferenceSentencesAreLabelledByWhatTheySay(string sentence, string aspect) =>
        Assert.Equal(aspect, AspectSplitter.LabelReference(sentence));

    [Fact]
    public void EveryExpertFindsSentencesInTheRealReferences()
    {
        var labels = Real.Ucm().Images.Concat(Real.Rsicd().Dataset.Images).SelectMany(i => i.Captions)
            .GroupBy(AspectSplitter.LabelReference).ToDictionary(g => g.Key, g => g.Count());
        int total = labels.Values.Sum();
        Assert.All(new[] { AspectSplitter.Theme, AspectSplitter.Objects, AspectSplitter.Relationships },
            a => Assert.True(labels.GetValueOrDefault(a) > total / 20, $"{a}: {labels.GetValueOrDefault(a)} of {total}"));
    }
}
