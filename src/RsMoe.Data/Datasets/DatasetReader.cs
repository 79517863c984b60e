using System.Text.Json;
using System.Text.Json.Nodes;

namespace RsMoe.Data.Datasets;

/// <summary>
/// Reads the caption and VQA files of the field, telling them apart by their structure:
/// Karpathy-style JSON (UCM-Captions, Sydney-Captions, RSICD, RSITMD: <c>{"images":[{"filename","split","sentences":[{"raw"}]}]}</c>),
/// RSICap <c>captions.json</c> (<c>{"annotations":[{"image_id","filename","text_input","text_output"}]}</c>),
/// RSIEval <c>annotations.json</c> (<c>{"annotations":[{"filename","caption","qa_pairs":[…]}]}</c>, the synthetic
/// benchmark's <c>vqa.json</c> too), and the simple <c>{"images":[{"id","references":[…]}]}</c>.
/// </summary>
public static class DatasetReader
{
    public static CaptionDataset Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no data set file at '{path}'", path);
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e); }
        string name = Path.GetFileNameWithoutExtension(path);
        try
        {
            if (root is JsonObject obj && obj["images"] is JsonArray images)
            {
                if (images.Count > 0 && images[0]?["sentences"] is not null) return ReadKarpathy(name, obj, images);
                return ReadSimple(name, images);
            }
            if (root is JsonObject withAnnotations && withAnnotations["annotations"] is JsonArray annotations)
            {
                if (annotations.Count > 0 && annotations[0]?["qa_pairs"] is not null) return ReadRsiEval(name, annotations);
                return ReadRsiCap(name, annotations);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new InvalidDataException($"{path}: a field has an unexpected type ({e.Message})", e);
        }
        throw new InvalidDataException($"{path}: not a Karpathy, RSICap, RSIEval or {{\"images\":[{{\"id\",\"references\"}}]}} file");
    }

    static string Text(JsonNode? node, string field, string where) =>
        node?[field]?.GetValue<JsonElement>() is { } e
            ? e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText()
            : throw new InvalidDataException($"{where}: missing '{field}'");

    static CaptionDataset ReadKarpathy(string name, JsonObject root, JsonArray images)
    {
        var result = new List<CaptionedImage>(images.Count);
        foreach (var image in images)
        {
            string file = Text(image, "filename", "Karpathy image");
            string id = image?["imgid"] is not null ? Text(image, "imgid", file) : file;
            var captions = (image!["sentences"] as JsonArray ?? [])
                .Select(s => s?["raw"]?.GetValue<string>() ?? string.Join(' ', (s?["tokens"] as JsonArray ?? []).Select(t => t!.GetValue<string>())))
                .ToList();
            result.Add(new CaptionedImage(id, file, image["split"]?.GetValue<string>() ?? "train", captions, image["label"]?.GetValue<string>()));
        }
        return new CaptionDataset(root["dataset"]?.GetValue<string>() ?? name, "karpathy", result);
    }

    static CaptionDataset ReadRsiCap(string name, JsonArray annotations)
    {
        var result = annotations.Select((a, i) =>
        {
            string file = Text(a, "filename", $"RSICap annotation {i}");
            string id = a?["image_id"] is not null ? Text(a, "image_id", file) : file;
            string caption = Text(a, "text_output", file).Trim();
            return new CaptionedImage(id, file, a?["split"]?.GetValue<string>() ?? "train", [caption],
                Instruction: a?["text_input"]?.GetValue<string>(), Aspects: ReadAspects(a?["aspects"]));
        }).ToList();
        return new CaptionDataset(name, "rsicap", result);
    }

    static CaptionDataset ReadRsiEval(string name, JsonArray annotations)
    {
        var result = annotations.Select((a, i) =>
        {
            string file = Text(a, "filename", $"RSIEval annotation {i}");
            string id = a?["image_id"] is not null ? Text(a, "image_id", file) : file;
            var qa = (a!["qa_pairs"] as JsonArray ?? []).Select((q, k) => new QaPair(
                q?["question_id"]?.GetValue<string>() ?? $"{id}#{k}", Text(q, "question", file), Text(q, "answer", file), q?["type"]?.GetValue<string>() ?? "unknown")).ToList();
            string? caption = a["caption"]?.GetValue<string>();
            return new CaptionedImage(id, file, a["split"]?.GetValue<string>() ?? "test", caption is null ? [] : [caption.Trim()], Questions: qa,
                Aspects: ReadAspects(a["aspects"]));
        }).ToList();
        return new CaptionDataset(name, "rsieval", result);
    }

    static CaptionDataset ReadSimple(string name, JsonArray images)
    {
        var result = images.Select((image, i) =>
        {
            string id = Text(image, "id", $"image {i}");
            var references = (image?["references"] as JsonArray ?? throw new InvalidDataException($"image '{id}': missing 'references'"))
                .Select(r => r!.GetValue<string>()).ToList();
            return new CaptionedImage(id, image?["file"]?.GetValue<string>() ?? id, image?["split"]?.GetValue<string>() ?? "test", references);
        }).ToList();
        return new CaptionDataset(name, "references", result);
    }

    static IReadOnlyList<AspectSentence>? ReadAspects(JsonNode? node) => node is JsonArray array
        ? array.Select(s => new AspectSentence(s!["text"]!.GetValue<string>(), s["aspect"]!.GetValue<string>())).ToList()
        : null;
}
