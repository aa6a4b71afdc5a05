import { Text } from 'ink';

/** A one-line text field; typing is handled by the screen's input hook. */
export default function TextField({ label, value, width }: { label: string; value: string; width: number }) {
  const room = Math.max(1, width - label.length - 2);
  const shown = value.length > room ? `…${value.slice(value.length - room + 1)}` : value;
  return (
    <Text>
      <Text bold>{label}</Text> {shown}
      <Text inverse> </Text>
    </Text>
  );
}
