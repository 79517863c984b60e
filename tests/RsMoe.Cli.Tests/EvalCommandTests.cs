using System.Text.Json;
using RsMoe.Cli.Tests.Support;

namespace RsMoe.Cli.Tests;

/// <summary><c>rsmoe eval</c> and <c>rsmoe data</c> on the real corpora in ../shared.</summary>
public sealed class EvalCommandTests
{
    static (int ExitCode, string Stdout, string Stderr) Rsmoe(params string[] args) => RsmoeProcess.Run(args);

    static string Temp(string name, string content)
    {
        string dir = Path.Combine(Path.GetTempPath(), "rsmoe-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void CaptionScoresComeOutAsJsonForTheKarpathyTestSplit()
    {
        string references = SharedData.Path("captions", "UCM_captions_karpathy.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(references));
        // Predict each test image's first reference: a strong but imperfect system.
        var predictions = doc.RootElement.GetProperty("images").EnumerateArray()
            .Where(i => i.GetProperty("split").GetString() == "test")
            .Select(i => new { image_id = i.GetProperty("imgid").GetInt32(), caption = i.GetProperty("sentences")[0].GetProperty("raw").GetString() })
            .ToList();
        string path = Temp("predictions.json", JsonSerializer.Serialize(predictions));
        var (code, output, error) = Rsmoe("eval", "captions", "--predictions", path, "--references", references, "--json");
        Assert.True(code == 0, output + error);
        using var json = JsonDocument.Parse(output);
        foreach (var metric in new[] { "Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr" })
            Assert.InRange(json.RootElement.GetProperty(metric).GetDouble(), 0.3, 10);
        Assert.Equal(predictions.Count, json.RootElement.GetProperty("per_image").EnumerateObject().Count());
        Assert.Contains("exact+stem", json.RootElement.GetProperty("meteor_modules").GetString());
    }

    [Fact]
    public void PredictionsForUnknownImagesAreRefusedClearly()
    {
        string path = Temp("predictions.json", "[{\"image_id\": 999999, \"caption\": \"x\"}]");
        var (code, _, error) = Rsmoe("eval", "captions", "--predictions", path, "--references", SharedData.Path("captions", "UCM_captions_karpathy.json"));
        Assert.Equal(2, code);
        Assert.Contains("999999", error);
    }

    [Fact]
    public void VqaAccuracyIsPerfectForTheReferenceAnswersAndLowerForYes()
    {
        string references = SharedData.Path("rsieval", "annotations.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(references));
        var pairs = doc.RootElement.GetProperty("annotations").EnumerateArray()
            .SelectMany(a => a.GetProperty("qa_pairs").EnumerateArray().Select(q => new
            {
                filename = a.GetProperty("filename").GetString(), question = q.GetProperty("question").GetString(), answer = q.GetProperty("answer").GetString(),
            })).ToList();
        var (code, output, error) = Rsmoe("eval", "vqa", "--predictions", Temp("p.json", JsonSerializer.Serialize(pairs)), "--references", references, "--json");
        Assert.True(code == 0, output + error);
        using (var json = JsonDocument.Parse(output))
        {
            Assert.Equal(10, json.RootElement.GetProperty("per_type").EnumerateObject().Count());
            Assert.True(json.RootElement.GetProperty("accuracy").GetDouble() > 0.99);
        }
        var alwaysYes = pairs.Select(p => new { p.filename, p.question, answer = "Yes." }).ToList();
        (code, output, _) = Rsmoe("eval", "vqa", "--predictions", Temp("y.json", JsonSerializer.Serialize(alwaysYes)), "--references", references, "--json");
        Assert.Equal(0, code);
        using var yes = JsonDocument.Parse(output);
        Assert.InRange(yes.RootElement.GetProperty("accuracy").GetDouble(), 0.05, 0.6);
    }

    [Fact]
    public void AspectSharesOfRsiCap()
    {
        var (code, output, error) = Rsmoe("data", "aspects", "--input", SharedData.Path("rsicap", "captions.json"), "--json");
        Assert.True(code == 0, output + error);
        using var json = JsonDocument.Parse(output);
        var aspects = json.RootElement.GetProperty("aspects");
        double total = aspects.EnumerateObject().Sum(a => a.Value.GetProperty("share").GetDouble());
        Assert.Equal(1.0, total, 6);
    }
}
