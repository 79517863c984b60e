using RsMoe.Data.Datasets;
using RsMoe.Model.Moe;
using RsMoe.Model.Tokenizers;
using Xunit.Abstractions;

namespace RsMoe.Training.Tests;

/// <summary>The real-imagery recipe on a few real images: Stage 0 on the caption corpora, then both stages; the examples it builds.</summary>
public sealed class RealImageryTrainingTests(ITestOutputHelper output)
{
    static readonly string Scratch = Path.Combine(Path.GetTempPath(), "rsmoe-real-train-tests", Guid.NewGuid().ToString("N"));

    /// <summary>The real recipe on six images, a tiny model and three steps a stage.</summary>
    static TrainingConfig Small(TrainingConfig config) => config with
    {
        RealData = SharedData.Path(), Rsscn7 = null, TrainImages = 6, MaxSteps = 3, Stage2MaxSteps = 3,
        Stage0BatchSize = 8, BatchSize = 8, LlmHiddenSize = 64, LlmLayers = 2, LlmIntermediateSize = 128, QFormerHiddenSize = 64,
    };

    static TrainingConfig Config(string name) => Small(TrainingConfig.Preset("real")) with { Output = Path.Combine(Scratch, name, "run") };

    [Fact]
    public void EveryExpertGetsARealSentenceForEveryImageAndNoTestImageIsUsed()
    {
        var config = TrainingConfig.Preset("real") with { RealData = SharedData.Path(), Rsscn7 = SharedData.Path("rsscn7"), TurnedViews = 0.5 };
        var (stage1, stage2) = TrainingSamples.Build(config);
        var real = new RealImagery(SharedData.Path());
        var heldOut = real.Ucm().Split("test").Concat(real.Ucm().Split("val")).Concat(real.Rsicd().Dataset.Split("test")).Concat(real.Rsicd().Dataset.Split("val"))
            .Select(i => i.FileName).ToHashSet();
        Assert.DoesNotContain(stage1.Concat(stage2), s => s.Images.Any(heldOut.Contains));
        var sentencesByImage = stage2.Where(s => !s.IsQuestion).GroupBy(s => s.ImagePath).ToList();
        Assert.Equal(1680 + 7946 + 1680, sentencesByImage.Count);
        Assert.All(sentencesByImage, g => Assert.Equal([0, 1, 2], g.Select(s => s.Expert).Distinct().Order()));
        Assert.All(stage2, s => Assert.False(string.IsNullOrWhiteSpace(s.Target)));
        // Questions teach the gate: presence and counting to objects, location to relationships, the theme to theme.
        Assert.All(stage2.Where(s => s.IsQuestion && s.Prompt.StartsWith("How many", StringComparison.Ordinal)), s => Assert.Equal(1, s.Expert));
        Assert.All(stage2.Where(s => s.IsQuestion && s.Prompt.StartsWith("What is the location", StringComparison.Ordinal)), s => Assert.Equal(2, s.Expert));
        Assert.Contains(stage2, s => s.IsQuestion && s.Expert == 0 && s.Target == "dense residential");
        // Stage I's scene loss: every example names its image's class, among its own data set's classes.
        Assert.All(stage1, s => Assert.NotNull(s.Scene));
        var classesPerDataset = stage1.Select(s => s.Scene!).Distinct().GroupBy(s => s.Split(':')[0]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["ucm-captions"] = 21, ["rsicd"] = 30, ["rsscn7"] = 7 }, classesPerDataset);
        Assert.Contains(stage1, s => s.ImagePath.EndsWith("airport_103.jpg", StringComparison.Ordinal) && s.Scene == "rsicd:airport");
        // Zoomed-out views: each RSSCN7 training photo leads two 2×2 mosaics of four different training photos of its
        // class and one 4×4 mosaic of sixteen, all at its scale (a genuine zoom-out: 1, 2 and 3 in the training split).
        var rsscn7Photos = Rsscn7.Split(SharedData.Path("rsscn7"), "train");
        Assert.Equal([1, 2, 3], rsscn7Photos.Select(p => p.Scale).Distinct().Order());
        Assert.Equal(3, rsscn7Photos.Single(p => p.File == "gParking/g201.jpg").Scale);
        Assert.Equal(2, rsscn7Photos.Single(p => p.File == "gParking/g200.jpg").Scale);
        var rsscn7Train = rsscn7Photos.ToDictionary(p => p.Path, p => p.Label);
        var scaleOf = rsscn7Photos.ToDictionary(p => p.Path, p => p.Scale);
        var mosaics = stage1.Where(s => s.MosaicWith is not null).ToList();
        Assert.Equal(2 * 1680, mosaics.Count(s => s.Images.Count == 4));
        Assert.Equal(1680, mosaics.Count(s => s.Images.Count == 16));
        Assert.All(mosaics, s =>
        {
            Assert.Equal(s.Images.Count, s.Images.Distinct().Count());
            Assert.All(s.Images, image => Assert.Equal($"rsscn7:{rsscn7Train[image]}", s.Scene));
            Assert.Single(s.Images.Select(image => scaleOf[image]).Distinct());
        });
        Assert.Contains(mosaics, s => s.Images.Count == 16 && scaleOf[s.ImagePath] == 2);   // RSSCN7's farthest scale, 4
        Assert.Equal(3 * 1680 * 4, stage2.Count(s => s.MosaicWith is not null));   // three sections and the theme question
        // Turned views: about half of each single photo's examples show it in one other orientation, fixed per photo;
        // none whose words name a side of the frame, and no mosaic.
        foreach (var stage in new[] { stage1, stage2 })
        {
            var singles = stage.Where(s => s.MosaicWith is null).ToList();
            double share = singles.Count(s => s.Turn != 0) / (double)singles.Count;
            Assert.InRange(share, 0.40, 0.50);
            Assert.All(singles.Where(s => s.Turn != 0).GroupBy(s => s.ImagePath), g => Assert.Single(g.Select(s => s.Turn).Distinct()));
            Assert.InRange(singles.Where(s => s.Turn != 0).Select(s => s.Turn).Distinct().Count(), 7, 7);
            Assert.DoesNotContain(stage, s => s.Turn != 0 && (s.Target.Contains("left", StringComparison.OrdinalIgnoreCase) || s.Prompt.Contains("right", StringComparison.OrdinalIgnoreCase)));
            Assert.Contains(stage, s => s.Turn == 0 && s.Target.Contains("on the left", StringComparison.OrdinalIgnoreCase));
            Assert.All(stage.Where(s => s.MosaicWith is not null), s => Assert.Equal(0, s.Turn));
        }
        Assert.Equal(stage1.Count, (TrainingSamples.Build(config with { TurnedViews = 0 }).Stage1).Count);   // no extra steps
    }

    [Fact]
    public void TheSceneLossIsCrossEntropyAmongTheRowsOwnDataSetsClasses()
    {
        using var classifier = new SceneClassifier(["ucm:farm", "ucm:forest", "rsicd:airport", "rsicd:farmland"], hiddenSize: 8);
        using var prefix = TorchSharp.torch.randn(3, 8);
        using var logits = classifier.forward(prefix);
        var l = logits.data<float>().ToArray();   // classes in ordinal order: rsicd:airport, rsicd:farmland, ucm:farm, ucm:forest
        double Ce(int row, int target, params int[] among) =>
            -(l[row * 4 + target] - Math.Log(among.Sum(c => Math.Exp(l[row * 4 + c]))));
        double expected = (Ce(0, 3, 2, 3) + Ce(2, 0, 0, 1)) / 2;   // the row without a scene adds nothing
        using var loss = classifier.Loss(prefix, ["ucm:forest", null, "rsicd:airport"]);
        Assert.Equal(expected, loss.item<float>(), 5);
        using var none = classifier.Loss(prefix, [null, null, null]);
        Assert.Equal(0f, none.item<float>());
        Assert.Throws<ArgumentException>(() => classifier.Loss(prefix, ["ucm:beach", null, null]));
    }

    /// <summary>A one-layer Llama of 20 tokens and width 16: the loss tests' model, five positions a row.</summary>
    static RsMoe.Model.Llm.LlamaForCausalLM TinyLm() => RsMoe.Model.Llm.LlamaForCausalLM.Create(new RsMoe.Model.Configs.LlamaConfig
    {
        VocabSize = 20, HiddenSize = 16, IntermediateSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDim = 8, RopeScaling = null,
    }, seed: 5);

    /// <summary>−log softmax(logits)[target] at one row and position of TinyLm's flattened [rows, 5, 20] logits, by hand.</summary>
    static double Nll(float[] logits, int row, int position, int target)
    {
        int at = (row * 5 + position) * 20;
        return -(logits[at + target] - Math.Log(Enumerable.Range(0, 20).Sum(v => Math.Exp(logits[at + v]))));
    }

    [Fact]
    public void TheCaptionStateIsTheMeanOfTheHiddenStatesThatPredictTheLabelledTokens()
    {
        using var lm = TinyLm();
        using var embeds = TorchSharp.torch.randn(2, 5, 16);
        long[] labels = [-100, -100, 3, 7, -100, /* row 1 */ -100, 4, 5, 6, 2];   // row 0 writes at positions 1–2, row 1 at 0–3
        using var labelTensor = TorchSharp.torch.tensor(labels, [2, 5]);
        var (loss, state) = CaptionLoss.LossAndCaptionState(lm, embeds, labelTensor);
        using (loss) using (state)
        {
            using var positions = TorchSharp.torch.arange(5L).unsqueeze(0).expand(2, -1);
            using var hidden = lm.Model.Forward(embeds, positions, null, null);
            using var logits = lm.Forward(embeds, positions);
            var l = logits.data<float>().ToArray();
            (int Row, int Position, int Target)[] writes = [(0, 1, 3), (0, 2, 7), (1, 0, 4), (1, 1, 5), (1, 2, 6), (1, 3, 2)];
            double expected = writes.Sum(w => Nll(l, w.Row, w.Position, w.Target));
            Assert.Equal(expected / writes.Length, loss.item<float>(), 4);
            using var row0 = hidden[0].narrow(0, 1, 2).mean([0]);
            using var row1 = hidden[1].narrow(0, 0, 4).mean([0]);
            Assert.True(TorchSharp.torch.allclose(state[0], row0, 1e-5, 1e-6));
            Assert.True(TorchSharp.torch.allclose(state[1], row1, 1e-5, 1e-6));
            using var plain = CaptionLoss.Loss(lm, embeds, labelTensor);
            Assert.Equal(loss.item<float>(), plain.item<float>());
        }
    }

    [Fact]
    public void ThePerExampleLossCountsEveryRowOnceHoweverLongItsTarget()
    {
        using var lm = TinyLm();
        using var embeds = TorchSharp.torch.randn(3, 5, 16);
        // Row 0 writes one token (an answer), row 1 four (a caption), row 2 nothing (never counted).
        long[] labels = [-100, -100, 3, -100, -100, /* row 1 */ -100, 4, 5, 6, 2, /* row 2 */ -100, -100, -100, -100, -100];
        using var labelTensor = TorchSharp.torch.tensor(labels, [3, 5]);
        using var loss = CaptionLoss.PerExampleLoss(lm, embeds, labelTensor);
        using var positions = TorchSharp.torch.arange(5L).unsqueeze(0).expand(3, -1);
        using var logits = lm.Forward(embeds, positions);
        var l = logits.data<float>().ToArray();
        double answer = Nll(l, 0, 1, 3);
        double caption = (Nll(l, 1, 0, 4) + Nll(l, 1, 1, 5) + Nll(l, 1, 2, 6) + Nll(l, 1, 3, 2)) / 4;
        Assert.Equal((answer + caption) / 2, loss.item<float>(), 4);
        using var tokenMean = CaptionLoss.Loss(lm, embeds, labelTensor);
        Assert.Equal((answer + 4 * caption) / 5, tokenMean.item<float>(), 4);
        Assert.NotEqual(Math.Round(loss.item<float>(), 3), Math.Round(tokenMean.item<float>(), 3));
        // A share between weighs the two means; 0 is the token mean itself.
        using var quarter = CaptionLoss.Blended(lm, embeds, labelTensor, perExampleShare: 0.25);
        Assert.Equal(0.75 * (answer + 4 * caption) / 5 + 0.25 * (answer + caption) / 2, quarter.item<float>(), 4);
        using var none = CaptionLoss.Blended(lm, embeds, labelTensor, perExampleShare: 0);
        Assert.Equal(tokenMean.item<float>(), none.item<float>());
        Assert.Throws<ArgumentOutOfRangeException>(() => CaptionLoss.Blended(lm, embeds, labelTensor, perExampleShare: 1.5));
    }

    [Fact]
    public void Stage0PretrainsTheLanguageModelBeforeBothStages()
    {
        var log = new List<string>();
        var report = new Trainer(Config("stage0") with { CaptionSceneLossWeight = 0.5 }, line => { log.Add(line); output.WriteLine(line); }).Run();
        Assert.Equal(["stage0", "stage1", "stage2"], report.LossByStage.Keys.Order());
        Assert.Contains(log, line => line.StartsWith("scene loss (visual prefix): ", StringComparison.Ordinal));
        Assert.Contains(log, line => line.StartsWith("scene loss (caption state): ", StringComparison.Ordinal));
        Assert.All(report.LossByStage.Values, l => Assert.True(double.IsFinite(l.Last)));
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(report.ModelDirectory)!, "stage0-metrics.json")));
        using var model = ModelFolder.Load(report.ModelDirectory);
        // The vocabulary comes from every caption corpus (RSICap's words too), not only the few training images.
        var words = (WordLevelTokenizer)model.LlmTokenizer;
        Assert.True(words.VocabSize > 3000, $"{words.VocabSize} words");
        Assert.NotEqual(words.UnknownTokenId, words.Encode("storage", addSpecialTokens: false)[0]);
        Assert.Equal(["theme", "objects", "relationships"], model.Experts.Keys);
    }

    [Fact]
    public void TheRealImageryAblationTrainsAndScoresEveryRun()
    {
        string folder = Path.Combine(Scratch, "ablations");
        Directory.CreateDirectory(folder);
        var rows = AblationRunner.RunReal(SharedData.Path(), folder, Path.Combine(folder, "feature-cache"), testImages: 2, output.WriteLine, Small);

        Assert.Equal([1, 2, 3, 4, 3], rows.Select(r => r.Experts));
        Assert.Equal(["two-stage", "two-stage", "two-stage", "two-stage", "one-stage"], rows.Select(r => r.Stage));
        Assert.All(rows, r =>
        {
            Assert.True(double.IsFinite(r.Captions["CIDEr"]) && double.IsFinite(r.ThemeSection!["Bleu_4"]));
            Assert.InRange(r.ThemeAccuracy!.Value, 0, 1);
            Assert.InRange(r.VqaAccuracy, 0, 1);
        });
        using (var fourExperts = ModelFolder.Load(Path.Combine(folder, "experts-4", "run", "model")))
            Assert.Equal(4, fourExperts.Experts.Count);
        // The RSSCN7 theme accuracy is also kept per scale: the first validation photo of each class is at scale 3.
        using (var scores = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "experts-4", "eval", "scores.json"))))
        {
            var perScale = scores.RootElement.GetProperty("theme_accuracy_per_scale");
            Assert.Equal(["3"], perScale.EnumerateObject().Select(p => p.Name));
            Assert.Equal(7, perScale.GetProperty("3").GetProperty("photos").GetInt32());
            Assert.InRange(perScale.GetProperty("3").GetProperty("accuracy").GetDouble(), 0, 1);
        }
        var table = File.ReadAllLines(Path.Combine(folder, "ablations.md")).Where(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();
        Assert.Equal(1 + rows.Count, table.Count);   // the header and one line a run
    }
}
