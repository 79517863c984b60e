using System.Text.Json;
using RsMoe.Cli.Tests.Support;

namespace RsMoe.Cli.Tests;

/// <summary><c>rsmoe caption-batch</c> through the real binary on real UCM photographs: resumable, bad files reported and skipped.</summary>
public sealed class CaptionBatchCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rsmoe-batch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Archive()
    {
        string archive = Path.Combine(_dir, "archive");
        Directory.CreateDirectory(Path.Combine(archive, "more"));
        File.Copy(SharedData.Path("ucm-captions", "images", "10.jpg"), Path.Combine(archive, "a.jpg"));
        File.Copy(SharedData.Path("ucm-captions", "images", "1210.jpg"), Path.Combine(archive, "b.jpg"));
        File.Copy(SharedData.Path("ucm-captions", "images", "1710.jpg"), Path.Combine(archive, "more", "c.jpg"));
        File.WriteAllText(Path.Combine(archive, "broken.jpg"), "this is not a JPEG");
        File.WriteAllText(Path.Combine(archive, "notes.txt"), "not an image file name: ignored");
        return archive;
    }

    static List<JsonElement> Lines(string path) =>
        File.ReadAllLines(path).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();

    [Fact]
    public void An_interrupted_run_resumes_without_repeating_and_a_bad_file_is_reported_and_skipped()
    {
        string archive = Archive(), results = Path.Combine(_dir, "out", "results.jsonl");

        var (code, stdout, stderr) = RsmoeProcess.Run(TimeSpan.FromMinutes(3), "caption-batch", archive, "--out", results, "--limit", "2");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("4 images in", stdout);
        var first = Lines(results);
        Assert.Equal(["a.jpg", "b.jpg"], first.Select(l => l.GetProperty("image").GetString()));

        // A stop in the middle of a write leaves half a line; the rerun drops it and goes on.
        File.AppendAllText(results, "{\"image\":\"broken.jp");
        (code, stdout, stderr) = RsmoeProcess.Run(TimeSpan.FromMinutes(3), "caption-batch", archive, "--out", results);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("2 already in", stdout);
        Assert.Contains("captioned 1, failed 1", stdout);
        Assert.Contains("skipped broken.jpg", stderr);

        var all = Lines(results);
        Assert.Equal(["a.jpg", "b.jpg", "broken.jpg", "more/c.jpg"], all.Select(l => l.GetProperty("image").GetString()));
        Assert.Equal(first.Select(l => l.GetRawText()), all.Take(2).Select(l => l.GetRawText()));   // what was done stays as it was
        Assert.False(string.IsNullOrWhiteSpace(all[2].GetProperty("error").GetString()));
        foreach (var line in all.Where(l => !l.TryGetProperty("error", out _)))
        {
            var sections = line.GetProperty("sections").EnumerateArray().ToList();
            Assert.Equal(["theme", "objects", "relationships"], sections.Select(s => s.GetProperty("aspect").GetString()));
            Assert.All(sections, s => Assert.False(string.IsNullOrWhiteSpace(s.GetProperty("text").GetString())));
            Assert.Equal(sections[0].GetProperty("text").GetString(), line.GetProperty("theme").GetString());
            Assert.True(line.GetProperty("timings_ms").GetProperty("caption").GetDouble() > 0);
        }

        // Everything is done: a third run captions nothing and leaves the file alone.
        long length = new FileInfo(results).Length;
        (code, stdout, _) = RsmoeProcess.Run(TimeSpan.FromMinutes(3), "caption-batch", archive, "--out", results);
        Assert.Equal(0, code);
        Assert.Contains("0 to caption", stdout);
        Assert.Equal(length, new FileInfo(results).Length);
    }

    [Fact]
    public void A_list_names_images_relative_to_itself_and_a_missing_one_is_a_result_with_its_error()
    {
        string archive = Archive(), list = Path.Combine(archive, "list.txt"), results = Path.Combine(_dir, "list.jsonl");
        File.WriteAllLines(list, ["# two photos and one that is not there", "more/c.jpg", "", "gone.jpg", "more/c.jpg"]);

        var (code, stdout, stderr) = RsmoeProcess.Run(TimeSpan.FromMinutes(3), "caption-batch", list, "--out", results);
        Assert.True(code == 0, stdout + stderr);
        var lines = Lines(results);
        Assert.Equal(["more/c.jpg", "gone.jpg"], lines.Select(l => l.GetProperty("image").GetString()));
        Assert.Contains("gone.jpg", lines[1].GetProperty("error").GetString());
    }

    [Fact]
    public void What_cannot_be_started_is_one_clear_error()
    {
        var (code, _, stderr) = RsmoeProcess.Run("caption-batch", Path.Combine(_dir, "nowhere"), "--out", Path.Combine(_dir, "r.jsonl"));
        Assert.Equal(2, code);
        Assert.Contains("neither a folder of images nor a list file", stderr);

        string results = Path.Combine(_dir, "foreign.jsonl");
        File.WriteAllText(results, "this is somebody else's file\n");
        (code, _, stderr) = RsmoeProcess.Run("caption-batch", Archive(), "--out", results);
        Assert.Equal(2, code);
        Assert.Contains("line 1, is not a result line", stderr);
        Assert.Equal("this is somebody else's file\n", File.ReadAllText(results));
    }
}
