using System.Security.Cryptography;
using RsMoe.Data.Aspects;
using RsMoe.Data.Datasets;
using RsMoe.Data.Images;
using RsMoe.Data.Synthetic;
using RsMoe.Evaluation.Vqa;
using Xunit.Abstractions;

namespace RsMoe.Data.Tests;

public sealed class SyntheticBenchmarkTests
{
    readonly ITestOutputHelper _output;
    public SyntheticBenchmarkTests(ITestOutputHelper output) => _output = output;

    static string TempDirectory() => Path.Combine(Path.GetTempPath(), "rsmoe-synth-tests", Guid.NewGuid().ToString("N"));

    [Fact]
    public void TheSameSeedGivesTheSameScenesAndAnotherSeedDoesNot()
    {
        var a = SyntheticBenchmark.Generate(seed: 5, index: 17);
        var b = SyntheticBenchmark.Generate(seed: 5, index: 17);
        var c = SyntheticBenchmark.Generate(seed: 6, index: 17);
        Assert.Equal(a.Text, b.Text);
        Assert.Equal(SHA256.HashData(a.Png), SHA256.HashData(b.Png));
        Assert.NotEqual(SHA256.HashData(a.Png), SHA256.HashData(c.Png));

        string first = TempDirectory(), second = TempDirectory();
        SyntheticBenchmark.Write(first, 40, seed: 9);
        SyntheticBenchmark.Write(second, 40, seed: 9);
        foreach (var file in new[] { "captions.json", "vqa.json", "scenes.json", "images/syn000013.png" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, file)), File.ReadAllBytes(Path.Combine(second, file)));
    }

    [Fact]
    public void FilesReadBackThroughTheRsiCapAndRsiEvalReaders()
    {
        string dir = TempDirectory();
        SyntheticBenchmark.Write(dir, 300, seed: 2);
        var captions = DatasetReader.Read(Path.Combine(dir, "captions.json"));
        var vqa = DatasetReader.Read(Path.Combine(dir, "vqa.json"));
        Assert.Equal(300, captions.Images.Count);
        Assert.Equal(["test", "train", "val"], captions.Splits);
        Assert.InRange(captions.Split("train").Count(), 200, 270);
        Assert.All(captions.Images, i => Assert.NotNull(i.Aspects));
        Assert.All(captions.Images, i => Assert.Equal(AspectSplitter.Theme, i.Aspects![0].Aspect));
        Assert.Equal(QuestionWriter.Types.Order(), vqa.Images.SelectMany(i => i.QaPairs).Select(q => q.Type).Distinct().Order());
        Assert.Equal(9, File.ReadAllText(Path.Combine(dir, "scenes.json")).Split("\"theme\":").Skip(1).Select(s => s.Split('"')[1]).Distinct().Count());

        var pixels = ImageDecoder.DecodeRgb(File.ReadAllBytes(Path.Combine(dir, captions.Images[0].FileName)));
        Assert.Equal((256, 256), (pixels.Width, pixels.Height));

        // How often the rule-based splitter agrees with the generator's own labels.
        var sentences = captions.Images.SelectMany(i => i.Aspects!.Select((s, k) => (s, k))).ToList();
        double agreement = sentences.Count(x => AspectSplitter.Label(x.s.Text, x.k) == x.s.Aspect) / (double)sentences.Count;
        _output.WriteLine($"aspect splitter agrees with the generator on {agreement:P1} of {sentences.Count} sentences");
        Assert.True(agreement > 0.85, $"agreement {agreement:P1}");
    }

    [Fact]
    public void AnswersFollowFromTheSceneTruth()
    {
        for (int index = 0; index < 60; index++)
        {
            var generated = SyntheticBenchmark.Generate(seed: 4, index);
            var scene = generated.Scene;
            foreach (var qa in generated.Questions)
            {
                switch (qa.Type)
                {
                    case "quantity":
                        var cls = Vocabulary.ClassNames.First(c => qa.Question.Contains($" {c.Value.Plural} ")).Key;
                        int total = scene.Groups.Where(g => g.Class == cls).Sum(g => g.Count);
                        Assert.True(VqaEvaluator.IsCorrect(total.ToString(), qa.Answer), $"{qa.Question} → {qa.Answer}, truth {total}");
                        break;
                    case "presence" when qa.Answer == "No.":
                        Assert.DoesNotContain(scene.Groups, g => qa.Question.Contains($" {Vocabulary.ClassNames[g.Class].Plural} "));
                        break;
                    case "area_comp":
                        var m = System.Text.RegularExpressions.Regex.Match(qa.Question, @"the (.+) or the (.+)\?$");
                        string ClassOf(string plural) => Vocabulary.ClassNames.First(c => c.Value.Plural == plural).Key;
                        string first = ClassOf(m.Groups[1].Value), second = ClassOf(m.Groups[2].Value);
                        string larger = scene.ClassArea[first] >= scene.ClassArea[second] ? first : second;
                        Assert.Equal($"The {Vocabulary.ClassNames[larger].Plural}.", qa.Answer);
                        break;
                    case "road_ori":
                        Assert.Contains(CaptionWriter.Direction(scene.Lines.First(l => l.Class is "road" or "river").Direction), qa.Answer);
                        break;
                }
            }
            // Every caption mentions each group's count as a number word or a quantifier.
            Assert.Equal(scene.Groups.Count, generated.Caption.Count(s => s.Aspect == AspectSplitter.Objects));
        }
    }

    [Fact]
    public void SizesOutsideTheRangeAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticBenchmark.Generate(1, 0, size: 100));
        var big = SyntheticBenchmark.Generate(1, 0, size: 512);
        Assert.Equal((512, 512), (ImageDecoder.DecodeRgb(big.Png).Width, ImageDecoder.DecodeRgb(big.Png).Height));
    }
}
