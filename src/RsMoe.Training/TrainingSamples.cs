using System.Text.Json;
using RsMoe.Data.Aspects;
using RsMoe.Data.Datasets;

namespace RsMoe.Training;

/// <summary>One supervised example: an image, what the LLM is told, what it must write, and which expert learns it.</summary>
public sealed record TrainingSample(string ImagePath, string Prompt, string Target, int Expert, bool IsQuestion);

/// <summary>Builds Stage I and Stage II examples from the synthetic benchmark (and, optionally, RSSCN7 photographs).</summary>
public static class TrainingSamples
{
    /// <summary>PAPER.md's mapping of question types to aspects: objects, relationships, theme.</summary>
    public static string AspectOfQuestion(string type) => type switch
    {
        "presence" or "quantity" or "color" => AspectSplitter.Objects,
        "ab_position" or "re_position" or "area_comp" or "road_ori" => AspectSplitter.Relationships,
        _ => AspectSplitter.Theme,
    };

    /// <summary>
    /// Which of <paramref name="experts"/> experts learns a sentence or question of an aspect. Three experts: theme,
    /// objects, relationships. Fewer share (two: theme+objects and relationships; one: everything). Four: positions in
    /// the image and relations between things go to different experts.
    /// </summary>
    public static int ExpertOf(string aspect, int experts, bool aboutTheImageFrame = false)
    {
        int index = Array.IndexOf([AspectSplitter.Theme, AspectSplitter.Objects, AspectSplitter.Relationships], aspect);
        return experts switch
        {
            1 => 0,
            2 => index == 2 ? 1 : 0,
            3 => index,
            _ => index == 2 && !aboutTheImageFrame ? 3 : index,
        };
    }

    /// <summary>The roles of N experts, in caption order.</summary>
    public static IReadOnlyList<string> Roles(int experts) => experts switch
    {
        1 => ["caption"],
        2 => ["theme-objects", AspectSplitter.Relationships],
        3 => [AspectSplitter.Theme, AspectSplitter.Objects, AspectSplitter.Relationships],
        4 => [AspectSplitter.Theme, AspectSplitter.Objects, "positions", "relations"],
        _ => throw new ArgumentException("1 to 4 experts are supported"),
    };

    static bool AboutTheFrame(string sentenceOrQuestionType) =>
        sentenceOrQuestionType is "ab_position" || sentenceOrQuestionType.Contains("of the image", StringComparison.Ordinal)
        || sentenceOrQuestionType.Contains("across the image", StringComparison.Ordinal) || sentenceOrQuestionType.Contains("through the image", StringComparison.Ordinal);

    static readonly Dictionary<string, string[]> Rsscn7Themes = new()
    {
        ["aGrass"] = ["This is an aerial image of a grassland.", "The image shows a large area of grassland seen from above."],
        ["bField"] = ["This is an aerial image of farmland.", "The image shows cultivated fields seen from above."],
        ["cIndustry"] = ["This is an aerial image of an industrial area.", "The image shows an industrial zone seen from above."],
        ["dRiverLake"] = ["This is an aerial image of a river or lake.", "The image shows an area of water seen from above."],
        ["eForest"] = ["This is an aerial image of a forest.", "The image shows a dense forest seen from above."],
        ["fResident"] = ["This is an aerial image of a residential area.", "The image shows a residential neighborhood seen from above."],
        ["gParking"] = ["This is an aerial image of a parking lot.", "The image shows a large parking lot seen from above."],
    };

    public static string Rsscn7Theme(string label) => Rsscn7Themes.TryGetValue(label, out var t) ? t[0] : throw new ArgumentException($"unknown RSSCN7 class '{label}'");

    public static (List<TrainingSample> Stage1, List<TrainingSample> Stage2) Build(TrainingConfig config, string split = "train")
    {
        var captions = DatasetReader.Read(Path.Combine(config.Data, "captions.json"));
        string vqaPath = Path.Combine(config.Data, "vqa.json");
        var vqa = File.Exists(vqaPath) ? DatasetReader.Read(vqaPath).Images.ToDictionary(i => i.Id) : [];
        string imageRoot = config.Images ?? config.Data;
        var images = captions.Split(split).ToList();
        if (config.TrainImages > 0) images = images.Take(config.TrainImages).ToList();
        var stage1 = new List<TrainingSample>();
        var stage2 = new List<TrainingSample>();
        foreach (var image in images)
        {
            string path = Path.Combine(imageRoot, image.FileName);
            string instruction = image.Instruction ?? "Describe this image in detail.";
            stage1.Add(new TrainingSample(path, instruction, image.Captions[0], 0, false));
            var aspects = image.Aspects ?? AspectSplitter.Split(image.Captions[0]);
            // Each expert's target: the caption's sentences of its aspects, in caption order.
            for (int e = 0; e < config.Experts; e++)
            {
                string section = string.Join(' ', aspects.Where(a => ExpertOf(a.Aspect, config.Experts, AboutTheFrame(a.Text)) == e).Select(a => a.Text));
                if (section.Length > 0) stage2.Add(new TrainingSample(path, instruction, section, e, false));
            }
            if (config.IncludeVqa && vqa.TryGetValue(image.Id, out var questions))
                foreach (var qa in questions.QaPairs)
                    stage2.Add(new TrainingSample(path, qa.Question, qa.Answer, ExpertOf(AspectOfQuestion(qa.Type), config.Experts, AboutTheFrame(qa.Type)), true));
        }
        if (config.Rsscn7 is { } rsscn7)
        {
            // Real photographs teach the theme only: no object or relationship targets.
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(rsscn7, "split.json")));
            var random = new Random(config.Seed);
            foreach (var item in doc.RootElement.EnumerateArray().Where(e => e.GetProperty("split").GetString() == "train"))
            {
                string label = item.GetProperty("class").GetString()!;
                string path = Path.Combine(rsscn7, "images", item.GetProperty("file").GetString()!);
                string theme = Rsscn7Themes[label][random.Next(2)];
                stage1.Add(new TrainingSample(path, "Describe this image in detail.", theme, 0, false));
                stage2.Add(new TrainingSample(path, "Describe this image in detail.", theme, ExpertOf(AspectSplitter.Theme, config.Experts), false));
            }
        }
        return (stage1, stage2);
    }
}
